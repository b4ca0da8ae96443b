import { Pool, errors as undiciErrors } from 'undici';
import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import type { Container } from '../runtime/container.js';
import type { InitPayload, ShimRequest, ShimResponse } from './shim-protocol.js';

export type StartKind = 'cold' | 'stem' | 'warm';
export type InstanceState = 'starting' | 'idle' | 'busy' | 'draining';

/** Headers that describe one hop of a connection, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export function stripHopByHop(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    const k = key.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(k) || k === 'content-length') continue;
    out[k] = value;
  }
  return out;
}

/**
 * A container serving one function version through its shim. It is specialized for
 * that version for life. The pool owns the state; this class owns the connection.
 */
export class Instance {
  state: InstanceState = 'starting';
  /** Requests placed on it so far (counted by the pool when it hands out a lease). */
  requests = 0;
  /** Started ahead of any request (a deploy's trial start, `minInstances`), not for one. */
  prewarmed = false;
  /** How this instance's start went, phase by phase (ms). */
  readonly startTimings: Record<string, number> = {};
  inflight = 0;
  lastUsedAt = Date.now();
  private readonly client: Pool;

  constructor(
    readonly container: Container,
    readonly target: FunctionVersion,
    readonly startedAs: 'cold' | 'stem',
  ) {
    // One keep-alive connection per request the instance may run at once: requests to
    // one instance never queue behind each other on a shared socket.
    this.client = new Pool('http://kiln-shim', {
      socketPath: container.socketPath,
      connections: target.spec.concurrency,
      keepAliveTimeout: 600_000,
      keepAliveMaxTimeout: 600_000,
      pipelining: 1,
    });
  }

  get id(): string {
    return this.container.id;
  }

  get functionName(): string {
    return this.target.spec.name;
  }

  get version(): number {
    return this.target.version;
  }

  /** Load the handler. A load error is the user's (a 400), not Kiln's. */
  async init(payload: InitPayload, timeoutMs: number): Promise<void> {
    const res = await this.send(
      {
        method: 'POST',
        path: '/init',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(payload)),
      },
      timeoutMs,
    );
    if (res.status !== 200) {
      const parsed = parseError(res.body);
      throw new KilnError(
        parsed?.code ?? 'handler_load_failed',
        parsed?.message ?? res.body.toString('utf8').slice(0, 2000),
        400,
      );
    }
  }

  async forward(req: ShimRequest, timeoutMs: number): Promise<ShimResponse> {
    const headers = { ...req.headers, 'x-kiln-deadline': String(Date.now() + timeoutMs) };
    // The function's log lines that name no request are attributed from this (src/logs).
    const requestId = req.headers['x-kiln-request-id'];
    if (typeof requestId !== 'string') return this.send({ ...req, headers }, timeoutMs);
    this.container.output.request(requestId, 'start');
    try {
      return await this.send({ ...req, headers }, timeoutMs);
    } finally {
      this.container.output.request(requestId, 'end');
    }
  }

  private async send(req: ShimRequest, timeoutMs: number): Promise<ShimResponse> {
    try {
      const res = await this.client.request({
        method: req.method as 'GET',
        path: req.path,
        headers: req.headers,
        body: req.body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: stripHopByHop(res.headers), body };
    } catch (err) {
      throw await this.classify(err, timeoutMs);
    }
  }

  /** Turn a transport failure into what happened to the function. */
  private async classify(err: unknown, timeoutMs: number): Promise<KilnError> {
    if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
      return new KilnError('timeout', `the function did not answer within ${timeoutMs} ms`, 504);
    }
    // The connection broke: the process died. Its exit status tells how, as the OCI
    // runtime's driver reads it (an unrequested SIGKILL is the OOM killer: cli-driver.ts).
    const exit = await Promise.race([
      this.container.exited,
      new Promise<undefined>((r) => setTimeout(r, 2000)),
    ]);
    if (exit && this.container.exitCause(exit) === 'out_of_memory') {
      return new KilnError(
        'out_of_memory',
        'the function was killed for using more memory than its memoryMb limit',
        502,
      );
    }
    const detail = exit ? `exit code ${exit.code ?? exit.signal}` : (err as Error).message;
    return new KilnError(
      'function_crashed',
      `the function's process died during the request (${detail})`,
      502,
    );
  }

  async destroy(): Promise<void> {
    this.state = 'draining';
    await this.client.destroy().catch(() => undefined);
    await this.container.stop();
  }
}

function parseError(body: Buffer): { code: string; message: string } | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string') {
      return { code: parsed.error.code, message: parsed.error.message };
    }
  } catch {
    // not JSON: the caller shows the raw text
  }
  return undefined;
}
