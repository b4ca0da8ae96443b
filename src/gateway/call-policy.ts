import { KilnError } from '../errors.js';
import type { Caller } from '../pool/call-listeners.js';
import { INVOKE_PREFIX, parseInvokePath } from './invoke-path.js';

/**
 * How deep a chain of calls may go (A calls B calls C …) before the gateway refuses the next
 * call: Lambda's recursive loop detection stops a loop after about 16 invocations (AWS,
 * "Use Lambda recursive loop detection to prevent infinite loops"); so does Kiln.
 */
export const MAX_CALL_DEPTH = 16;

/** A call the gateway will proxy: the invoke it is, and how deep in a chain it runs. */
export interface AdmittedCall {
  caller: Caller;
  /** 1 for a call made by an instance serving a client's request; one more per hop. */
  depth: number;
}

/**
 * Whether `caller` may make the request `url` over its call socket (pure): only invokes
 * (`/fn/NAME/…`, `NAME@7` and `NAME@alias` being versions of NAME) of a function its spec's
 * `calls` names; no control-plane route is reachable, whatever token the request carries.
 * `callerDepth` is the deepest call the caller's instance is serving (`CallDepths`); one more
 * past `MAX_CALL_DEPTH` is refused. Refusals are 403s: the caller's own doing, not retried.
 */
export function admitCall(url: string, caller: Caller, callerDepth: number): AdmittedCall {
  if (!url.startsWith(INVOKE_PREFIX)) {
    throw new KilnError(
      'call_not_allowed',
      `the call socket serves invokes only (POST ${INVOKE_PREFIX}NAME/…): ${JSON.stringify(url.slice(0, 100))} is not one`,
      403,
    );
  }
  const name = parseInvokePath(url).name.split('@', 1)[0]!;
  if (!caller.calls.includes(name)) {
    throw new KilnError(
      'call_not_allowed',
      `function "${caller.function}" may not call "${name}": its spec's calls name ${caller.calls.map((c) => `"${c}"`).join(', ')}`,
      403,
    );
  }
  const depth = callerDepth + 1;
  if (depth > MAX_CALL_DEPTH) {
    throw new KilnError(
      'call_depth_exceeded',
      `a chain of calls reached ${MAX_CALL_DEPTH} deep at "${caller.function}" calling "${name}": a loop between functions?`,
      403,
    );
  }
  return { caller, depth };
}

/**
 * How deep the calls each instance serves run, known to the gateway alone: a call's depth is
 * recorded on the instance that serves it for as long as it runs, and a call out of an
 * instance is one deeper than the deepest it serves then (0 when it serves only clients'
 * requests, which are not recorded). Nothing the function sends counts, so a function that
 * passes no header along is still stopped; an instance serving several requests at once
 * (`concurrency` > 1) counts its deepest for every call it makes, which can only stop a
 * chain early, never let one run past the limit.
 */
export class CallDepths {
  private readonly byInstance = new Map<string, number[]>();

  /** The deepest call `instance` serves now; 0 when none. */
  of(instance: string): number {
    const depths = this.byInstance.get(instance);
    return depths ? Math.max(...depths) : 0;
  }

  /** Record that `instance` serves a call `depth` deep; the returned function ends it. */
  enter(instance: string, depth: number): () => void {
    let depths = this.byInstance.get(instance);
    if (!depths) {
      depths = [];
      this.byInstance.set(instance, depths);
    }
    depths.push(depth);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const list = this.byInstance.get(instance)!;
      list.splice(list.indexOf(depth), 1);
      if (list.length === 0) this.byInstance.delete(instance);
    };
  }
}
