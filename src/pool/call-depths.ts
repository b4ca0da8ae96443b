/**
 * How deep the calls each instance serves run, known to the gateway alone: a call's depth is
 * recorded on the instance that serves it for as long as it runs (a sync call through the
 * gateway's proxy, an async one's attempts through `invokeTraced`), and a call out of an
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

/**
 * The header an async invocation made by a call carries its depth in, stored with its
 * request: set by the gateway's async route for a call alone (a client's `x-kiln-*` headers
 * are dropped there), read back when an attempt runs (src/traced-invoke.ts).
 */
export const CALL_DEPTH_HEADER = 'x-kiln-call-depth';

/** The depth an async request was submitted at (`CALL_DEPTH_HEADER`), 0 when none. */
export function callDepthOf(headers: Record<string, string | string[] | undefined>): number {
  const raw = headers[CALL_DEPTH_HEADER];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isInteger(n) && n > 0 ? n : 0;
}
