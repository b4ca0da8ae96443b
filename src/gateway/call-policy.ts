import type { IncomingMessage } from 'node:http';
import { KilnError } from '../errors.js';
import type { Caller } from '../pool/call-listeners.js';
import { INVOKE_PREFIX, parseInvokePath } from './invoke-path.js';

const ASYNC_PREFIX = '/async/';

/**
 * How deep a chain of calls may go (A calls B calls C …) before the gateway refuses the next
 * call: Lambda's recursive loop detection stops a loop after about 16 invocations (AWS,
 * "Use Lambda recursive loop detection to prevent infinite loops"); so does Kiln.
 */
export const MAX_CALL_DEPTH = 16;

/** A call the gateway will serve: a sync invoke or an async submission, and how deep in a chain it runs. */
export interface AdmittedCall {
  kind: 'invoke' | 'async';
  caller: Caller;
  /** 1 for a call made by an instance serving a client's request; one more per hop. */
  depth: number;
}

/**
 * Whether `caller` may make the request `method url` over its call socket (pure): only
 * invokes (`/fn/NAME/…`, `NAME@7` and `NAME@alias` being versions of NAME) and async
 * submissions (`POST /async/NAME/…`) of a function its spec's `calls` names; no other route
 * (control plane, `GET /async/:id`) is reachable, whatever token the request carries.
 * `callerDepth` is the deepest call the caller's instance is serving (`CallDepths`); one more
 * past `MAX_CALL_DEPTH` is refused. Refusals are 403s: the caller's own doing, not retried.
 */
export function admitCall(method: string, url: string, caller: Caller, callerDepth: number): AdmittedCall {
  // An async submission is routed by the control plane, whose URL parsing (WHATWG) removes
  // dot segments: `POST /async/quote/../victim` (or `%2e%2e`, or `\..\`) would pass the
  // name check as "quote" and then reach `/async/victim`, or any other POST route with more
  // `..`. A call's path must already be in the form that parsing leaves it in.
  const path = url.split('?', 1)[0]!;
  if (new URL(path, 'http://call.invalid').pathname !== path) {
    throw new KilnError(
      'call_not_allowed',
      `a call's path must have no "." or ".." segments and no backslashes: ${JSON.stringify(url.slice(0, 100))}`,
      403,
    );
  }
  let kind: AdmittedCall['kind'];
  let target: string;
  if (url.startsWith(INVOKE_PREFIX)) {
    kind = 'invoke';
    target = url;
  } else if (url.startsWith(ASYNC_PREFIX) && method === 'POST') {
    // The async route's `:name` is the same path segment an invoke's is.
    kind = 'async';
    target = `${INVOKE_PREFIX}${url.slice(ASYNC_PREFIX.length)}`;
  } else {
    throw new KilnError(
      'call_not_allowed',
      `the call socket serves invokes only (${INVOKE_PREFIX}NAME/…, POST ${ASYNC_PREFIX}NAME/…): ${JSON.stringify(`${method} ${url}`.slice(0, 100))} is not one`,
      403,
    );
  }
  const name = parseInvokePath(target).name.split('@', 1)[0]!;
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
  return { kind, caller, depth };
}

/**
 * Async submissions that came in on a call socket, with their depth: the call handler hands
 * the request to the control plane's async route, which stores the depth with the invocation
 * (`CALL_DEPTH_HEADER`). Keyed by the request object, so nothing the function sends can set it.
 */
const asyncCalls = new WeakMap<IncomingMessage, number>();

export function markAsyncCall(req: IncomingMessage, depth: number): void {
  asyncCalls.set(req, depth);
}

/** The depth of an async submission made by a call; undefined for a client's. */
export function asyncCallDepth(req: IncomingMessage | undefined): number | undefined {
  return req === undefined ? undefined : asyncCalls.get(req);
}
