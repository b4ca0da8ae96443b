import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BearerCheck } from '../auth/bearer.js';
import { checkInvokeAuth, invokeNeedsToken } from '../auth/invoke-auth.js';
import { errorAnswer, KilnError } from '../errors.js';
import type { Kiln } from '../kiln.js';
import type { CallDepths } from '../pool/call-depths.js';
import type { Caller } from '../pool/call-listeners.js';
import { breaksInstance } from '../pool/instance.js';
import type { RequestBody, ResponseSink } from '../pool/shim-client.js';
import type { Lease } from '../pool/warm-pool.js';
import type { InvokeTelemetry } from '../telemetry/telemetry.js';
import { type AdmittedCall, admitCall, markAsyncCall } from './call-policy.js';
import { parseInvokePath } from './invoke-path.js';
import { requestHeadersForShim, responseHeadersForClient } from './proxy-headers.js';

export { INVOKE_PREFIX } from './invoke-path.js';

/**
 * `ANY /fn/:name/*`, on plain node:http rather than through Hono: the invoke path is a
 * proxy, and building a web Request, Headers and Response for every call cost more than
 * the rest of the path (bench/: 3.6k → 6.4k req/s at 64 connections when it moved here).
 * The control plane stays on Hono, where that cost does not matter.
 *
 * Nothing is buffered: the request body streams to the shim as it arrives (counted against
 * `maxBodyBytes`: 413 past it), the response streams back as the shim sends it, with
 * backpressure both ways (`ShimClient`). What the gateway holds per request is one socket
 * read on each side, so its memory does not grow with a body (docs/SECURITY.md).
 */
export function createInvokeHandler(kiln: Kiln, maxBodyBytes: number, token?: string) {
  const check = token === undefined ? undefined : new BearerCheck(token);
  return (req: IncomingMessage, res: ServerResponse): Promise<void> =>
    proxy(kiln, maxBodyBytes, check, req, res);
}

/**
 * Calls between functions (docs/SECURITY.md): a request on an instance's call socket
 * (`CallListeners`) goes through the same proxy as a client's invoke once `admitCall` let it
 * (an invoke of a function its `calls` name, not too deep); an async submission goes to the
 * control plane's own async route (`asyncRoute`), marked with its depth. A callee with
 * `auth: "token"` still needs the token: `calls` comes from a spec, which a function's
 * author writes.
 */
export function createCallHandler(
  kiln: Kiln,
  maxBodyBytes: number,
  asyncRoute: (req: IncomingMessage, res: ServerResponse) => void,
  token?: string,
) {
  const check = token === undefined ? undefined : new BearerCheck(token);
  const { depths } = kiln.calls;
  return (req: IncomingMessage, res: ServerResponse, caller: Caller): void => {
    let call: AdmittedCall;
    try {
      call = admitCall(req.method ?? 'GET', req.url ?? '/', caller, depths.of(caller.instance));
    } catch (err) {
      sendError(res, err);
      return;
    }
    if (call.kind === 'async') {
      markAsyncCall(req, call.depth);
      asyncRoute(req, res);
    } else {
      void proxy(kiln, maxBodyBytes, check, req, res, { ...call, depths });
    }
  };
}

/** A body larger than the cap, known from its `content-length` before any byte is read. */
export function declaredTooLarge(req: IncomingMessage, maxBodyBytes: number): boolean {
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) > maxBodyBytes;
}

export function tooLarge(maxBodyBytes: number): KilnError {
  return new KilnError(
    'request_too_large',
    `the request body is larger than ${Math.round(maxBodyBytes / 1048576)} MiB`,
    413,
  );
}

async function proxy(
  kiln: Kiln,
  maxBodyBytes: number,
  check: BearerCheck | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  call?: AdmittedCall & { depths: CallDepths },
): Promise<void> {
  let lease: Lease | undefined;
  let leaveCall: (() => void) | undefined;
  let outcome: 'ok' | 'broken' = 'ok';
  let trace: InvokeTelemetry | undefined;
  let errorCode: string | undefined;
  try {
    const target = parseInvokePath(req.url ?? '/');
    const requestId = randomUUID();
    // Its span, phases (Server-Timing), metrics and log line (src/telemetry).
    // Counted and traced under the function's name: NAME@7 and NAME@alias are versions of NAME
    // (src/functions/function-ref.ts); the span's faas.version says which.
    const fn = target.name.split('@', 1)[0]!;
    trace = kiln.telemetry.invoke(fn, requestId, req.method ?? 'GET', target.rest, req.headers);
    checkInvokeAuth(kiln.functions, target.name, req.headers.authorization, check);
    if (declaredTooLarge(req, maxBodyBytes)) throw tooLarge(maxBodyBytes);
    trace.acquiring();
    lease = await kiln.pool.acquire(target.name);
    // Named fields, not `{ ...lease }`: copying the lease (its closure included) by spread was
    // ~10 µs of the gateway's CPU per warm request (CPU profile, issue 9).
    trace.leased({
      start: lease.start,
      prewarmed: lease.prewarmed,
      version: lease.version,
      timings: lease.timings,
      instanceId: lease.instance.id,
      runtime: lease.instance.target.spec.runtime,
    });
    // The instance serves a call this deep while it runs: its own calls go one deeper.
    if (call) leaveCall = call.depths.enter(lease.instance.id, call.depth);
    // The client may have gone while the request waited for its turn.
    if (res.destroyed) return;
    // The gateway's token, when it guards this function, is never shown to the function.
    const headers = requestHeadersForShim(
      req.rawHeaders,
      check !== undefined && invokeNeedsToken(kiln.functions, target.name),
    );
    const remote = req.socket.remoteAddress ?? '127.0.0.1';
    const forwarded = req.headers['x-forwarded-for'];
    headers.push('x-forwarded-for', forwarded ? `${forwarded}, ${remote}` : remote);
    headers.push('x-kiln-request-id', requestId);
    if (req.headers.host === undefined) headers.push('host', 'localhost');
    const method = req.method ?? 'GET';
    // With tracing on, the function gets this call's span as its `traceparent`.
    trace.calling(headers);
    const { instance } = lease;
    const held = lease;
    const phases = trace;
    const sink: ResponseSink = {
      onHead(status, shimHeaders, contentLength, whole) {
        // With a streamed answer the head leaves before the body exists: `fn` is the time
        // to the response head.
        phases.called();
        const out = responseHeadersForClient(shimHeaders);
        out.push(
          'x-kiln-start',
          held.start,
          'x-kiln-instance',
          instance.id,
          'x-kiln-version',
          String(held.version),
          'x-kiln-request-id',
          requestId,
          'server-timing',
          phases.serverTiming(),
        );
        if (held.prewarmed) out.push('x-kiln-prewarmed', 'true');
        if (contentLength !== undefined) out.push('content-length', String(contentLength));
        res.writeHead(status, out);
        if (whole) res.end(whole);
      },
      onData(chunk) {
        if (res.write(chunk)) return true;
        // The shim's socket is paused until the client has taken this: listened for only
        // then, since a whole answer (most are) never waits (issue 9: listeners per request).
        res.once('drain', resume);
        return false;
      },
      onEnd() {
        if (!res.writableEnded) res.end();
      },
    };
    const exchange = instance.exchange(
      { method, path: target.rest, headers },
      requestBody(req, maxBodyBytes),
      sink,
      instance.target.spec.timeoutMs,
    );
    const { call: shimCall } = exchange;
    const resume = () => shimCall.resume();
    // The client went away before the answer was whole: the shim's request is cut off too.
    // `on`, not `once`: 'close' comes once, and `once` wraps the listener per request.
    res.on('close', () => {
      if (!res.writableFinished) shimCall.abort();
    });
    await exchange.finished;
  } catch (err) {
    if (breaksInstance(err)) outcome = 'broken';
    errorCode = err instanceof KilnError ? err.code : 'internal_error';
    if (err instanceof KilnError && err.code === 'client_closed') return;
    sendError(res, err);
  } finally {
    leaveCall?.();
    lease?.release(outcome);
    // 499 (nginx's "client closed request") when the client left before an answer began.
    trace?.finish(res.headersSent ? res.statusCode : 499, errorCode);
  }
}

/** The body as the shim will get it: none, or the client's stream (chunked when its length is unknown). */
function requestBody(req: IncomingMessage, maxBodyBytes: number): RequestBody {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined) {
    return { kind: 'stream', stream: req, length: undefined, limit: maxBodyBytes };
  }
  if (length === undefined) return { kind: 'none' };
  const n = Number(length);
  if (n === 0) return { kind: 'bytes', bytes: Buffer.alloc(0) };
  return { kind: 'stream', stream: req, length: n, limit: maxBodyBytes };
}

/**
 * An error before the answer began is answered as JSON; after, the client gets a cut-off
 * response (the connection closes), never a second head.
 */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const answer = errorAnswer(err);
  const body = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...answer.headers,
  });
  res.end(body);
}
