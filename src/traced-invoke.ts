import { KilnError } from './errors.js';
import { type CallDepths, callDepthOf } from './pool/call-depths.js';
import { breaksInstance } from './pool/instance.js';
import type { ShimRequest, ShimResponse } from './pool/shim-protocol.js';
import type { WarmPool } from './pool/warm-pool.js';
import type { InvokeTelemetry, Telemetry } from './telemetry/telemetry.js';

export interface TracedInvocation {
  response: ShimResponse;
  start: string;
  instanceId: string;
  version: number;
}

/**
 * A buffered request through the pool (`WarmPool.acquire`, forward, release) with its
 * telemetry told of the lease and the call: the shim gets the call span's `traceparent`.
 * What Lambda's Invoke API and async attempts use; the `/fn/*` proxy streams instead and
 * does the same steps itself (`src/gateway/invoke-handler.ts`).
 */
export async function invokeTraced(
  pool: WarmPool,
  trace: InvokeTelemetry,
  name: string,
  req: ShimRequest,
  depths?: CallDepths,
): Promise<TracedInvocation> {
  trace.acquiring();
  const lease = await pool.acquire(name);
  const { instance } = lease;
  trace.leased({ ...lease, instanceId: instance.id, runtime: instance.target.spec.runtime });
  let outcome: 'ok' | 'broken' = 'ok';
  // An async attempt of an invocation a call submitted serves a call that deep (call-depths.ts).
  const depth = depths ? callDepthOf(req.headers) : 0;
  const leave = depth > 0 ? depths?.enter(instance.id, depth) : undefined;
  try {
    trace.calling(req.headers);
    const response = await instance.forward(req, instance.target.spec.timeoutMs);
    trace.called();
    return { response, start: lease.start, instanceId: instance.id, version: lease.version };
  } catch (err) {
    if (breaksInstance(err)) outcome = 'broken';
    throw err;
  } finally {
    leave?.();
    lease.release(outcome);
  }
}

/**
 * An async attempt as an invoke of its own: a span continuing the trace context the
 * submitter sent (stored with the request), counted and logged like any invoke, with the
 * invocation id as `faas.invocation_id` on every attempt.
 */
export async function invokeAsyncAttempt(
  pool: WarmPool,
  telemetry: Telemetry,
  name: string,
  req: ShimRequest,
  depths?: CallDepths,
): Promise<TracedInvocation> {
  const id = req.headers['x-kiln-request-id'];
  const trace = telemetry.invoke(
    name,
    typeof id === 'string' ? id : '',
    req.method,
    req.path,
    req.headers,
    'other',
  );
  let status = 500;
  let code: string | undefined;
  try {
    const answer = await invokeTraced(pool, trace, name, req, depths);
    status = answer.response.status;
    return answer;
  } catch (err) {
    code = err instanceof KilnError ? err.code : 'internal_error';
    status = err instanceof KilnError ? err.status : 500;
    throw err;
  } finally {
    trace.finish(status, code);
  }
}
