import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import type { Container } from '../runtime/container.js';
import { MuxClient } from './mux-client.js';
import { MUX_TRANSPORT } from './mux-frames.js';
import type { InstanceState } from './placement.js';
import {
  collect,
  type RequestBody,
  type ResponseSink,
  type ShimCall,
  ShimClient,
  ShimClientError,
  type ShimRequestHead,
  type ShimTransport,
} from './shim-client.js';
import type { InitPayload, ShimRequest, ShimResponse } from './shim-protocol.js';

export type { InstanceState } from './placement.js';
/** Lambda's synchronous payload limit (6 MB), for every buffered response. */
export const MAX_BUFFERED_RESPONSE_BYTES = 6_291_456;

export type StartKind = 'cold' | 'stem' | 'warm';

/**
 * An instance's life: `starting` (container up, handler loading) → `idle` ⇄ `busy`
 * (requests in flight), `idle` ⇄ `frozen` (its cgroup frozen after a short idle time;
 * a request takes it straight to `busy`, thawed first) → `draining` (serves what it has,
 * takes nothing new) → `gone` (stopped). Any state may end in `gone` (its process died);
 * nothing comes back from `gone`. Anything else is a bug in the pool, and throws.
 */
const TRANSITIONS: Record<InstanceState, readonly InstanceState[]> = {
  starting: ['idle', 'draining', 'gone'],
  idle: ['busy', 'frozen', 'draining', 'gone'],
  busy: ['idle', 'draining', 'gone'],
  frozen: ['busy', 'idle', 'draining', 'gone'],
  draining: ['gone'],
  gone: [],
};

export class IllegalTransition extends Error {
  constructor(id: string, from: InstanceState, to: InstanceState) {
    super(`instance ${id}: ${from} → ${to} is not a transition an instance makes`);
  }
}

/** Headers that describe one hop of a connection, never stored or forwarded (RFC 9110 §7.6.1). */
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

/** A header record without hop-by-hop headers and `content-length` (async requests keep this). */
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

/** Errors after which an instance cannot be trusted with another request. */
const FATAL = new Set(['timeout', 'function_crashed', 'out_of_memory']);

/** Whether `err` means the instance that served the request must go (its lease is `broken`). */
export function breaksInstance(err: unknown): boolean {
  return err instanceof KilnError && FATAL.has(err.code);
}

/** A request in flight to an instance: `finished` rejects with a classified `KilnError`. */
export interface Exchange {
  call: ShimCall;
  finished: Promise<void>;
}

/**
 * A container serving one function version through its shim. It is specialized for
 * that version for life. The pool owns the state; this class owns the connection.
 */
export class Instance {
  private current: InstanceState = 'starting';
  /** Requests placed on it so far (counted by the pool when it hands out a lease). */
  requests = 0;
  /** Started ahead of any request (a deploy's trial start, `minInstances`), not for one. */
  prewarmed = false;
  /** How this instance's start went, phase by phase (ms). */
  readonly startTimings: Record<string, number> = {};
  inflight = 0;
  lastUsedAt = Date.now();
  /** A thaw under way for the requests just placed on it (they wait for it); ms it took. */
  thawing: Promise<number> | undefined;
  /** The pool's timer that freezes it once idle long enough. */
  freezeTimer: NodeJS.Timeout | undefined;
  private client: ShimTransport;
  /** Freezer writes in order, so a thaw never overtakes the freeze it undoes. */
  private freezer: Promise<unknown> = Promise.resolve();
  /** The last freezer write was a freeze: the cgroup must be thawed before it is killed. */
  private cgroupFrozen = false;

  constructor(
    readonly container: Container,
    readonly target: FunctionVersion,
    readonly startedAs: 'cold' | 'stem',
  ) {
    // One keep-alive connection per request the instance may run at once: requests to
    // one instance never queue behind each other on a shared socket.
    this.client = new ShimClient(container.socketPath, target.spec.concurrency);
  }

  get id(): string {
    return this.container.id;
  }

  get state(): InstanceState {
    return this.current;
  }

  /** Move to `next`; throws `IllegalTransition` for a move the life above does not have. */
  moveTo(next: InstanceState): void {
    if (next === this.current) return;
    if (!TRANSITIONS[this.current].includes(next)) throw new IllegalTransition(this.id, this.current, next);
    this.current = next;
  }

  get functionName(): string {
    return this.target.spec.name;
  }

  get version(): number {
    return this.target.version;
  }

  /**
   * `idle → frozen`, then freeze its cgroup: no process of it runs until `thaw`. The state
   * moves first, so placement treats it as frozen (and thaws it) even while the write runs.
   */
  freeze(): Promise<void> {
    this.moveTo('frozen');
    return this.inOrder(async () => {
      await this.container.cgroup.freeze();
      this.cgroupFrozen = true;
    });
  }

  /** Thaw its cgroup (after any freeze still under way); resolves with the ms it took. */
  thaw(): Promise<number> {
    const asked = performance.now();
    return this.inOrder(async () => {
      await this.container.cgroup.thaw();
      this.cgroupFrozen = false;
      return performance.now() - asked;
    });
  }

  private inOrder<T>(write: () => Promise<T>): Promise<T> {
    const done = this.freezer.then(write);
    this.freezer = done.catch(() => undefined);
    return done;
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
    // A shim that takes the multiplexed connection gets every request on it from now on
    // (mux-client.ts); the HTTP connections, /init's included, close.
    if (useMux && shimTransports(res.body).includes(MUX_TRANSPORT)) {
      this.client.destroy();
      this.client = new MuxClient(this.container.socketPath);
    }
  }

  /**
   * One request with its whole response in memory (Lambda's Invoke API, async attempts, the
   * pool's buffered `invoke`). Past `maxBodyBytes` the exchange is abandoned and the answer is
   * 502 `response_too_large`: a function must not be able to make the gateway hold a body of
   * any size (issue 8, attempt 4; the `/fn/*` proxy streams instead).
   */
  async forward(
    req: ShimRequest,
    timeoutMs: number,
    maxBodyBytes = MAX_BUFFERED_RESPONSE_BYTES,
  ): Promise<ShimResponse> {
    let response: ShimResponse | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    const keep = (chunk: Buffer): boolean => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        tooLarge = true;
        chunks.length = 0;
        // Out of the connection's parse loop: `false` pauses its socket until then.
        queueMicrotask(() => call.abort());
        return false;
      }
      chunks.push(chunk);
      return true;
    };
    const headers: string[] = req.headers.host === undefined ? ['host', 'localhost'] : [];
    for (const [key, value] of Object.entries(req.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) headers.push(key.toLowerCase(), v);
    }
    const { call, finished } = this.exchange(
      { method: req.method, path: req.path, headers },
      req.body ? { kind: 'bytes', bytes: req.body } : { kind: 'none' },
      {
        onHead(status, h, _length, whole) {
          response = { status, headers: headerRecord(h), body: Buffer.alloc(0) };
          if (whole) keep(whole);
        },
        onData: keep,
        onEnd() {},
      },
      timeoutMs,
    );
    try {
      await finished;
    } catch (err) {
      if (!tooLarge) throw err;
    }
    if (tooLarge)
      throw new KilnError(
        'response_too_large',
        `the function's response is over ${maxBodyBytes} bytes, the most a buffered invoke (Lambda's Invoke API, async) takes; answer less, or serve large bodies through /fn/, which streams`,
        502,
      );
    if (!response) throw new KilnError('bad_function_response', 'the function sent no response', 502);
    response.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    return response;
  }

  /**
   * One request, its response streamed to `sink` as the shim sends it. `head.headers` are
   * what the function may see (the gateway strips hop-by-hop and client `x-kiln-*` headers);
   * the deadline is appended to them here: the list is the caller's own, made for this request
   * (copying it and the head was a per-request allocation on the warm path, issue 9).
   */
  exchange(head: ShimRequestHead, body: RequestBody, sink: ResponseSink, timeoutMs: number): Exchange {
    const { headers } = head;
    // The function's log lines that name no request are attributed from this (src/logs).
    const at = headers.indexOf('x-kiln-request-id');
    const requestId = at >= 0 && at % 2 === 0 ? headers[at + 1] : undefined;
    headers.push('x-kiln-deadline', String(Date.now() + timeoutMs));
    if (requestId) this.container.output.request(requestId, 'start');
    const call = this.client.request(head, body, sink, timeoutMs);
    const finished = call.done.then(
      () => {
        if (requestId) this.container.output.request(requestId, 'end');
      },
      async (err: unknown) => {
        if (requestId) this.container.output.request(requestId, 'end');
        throw await this.classify(err, timeoutMs);
      },
    );
    return { call, finished };
  }

  private async send(req: ShimRequest, timeoutMs: number): Promise<ShimResponse> {
    const headers: string[] = ['host', 'localhost'];
    for (const [key, value] of Object.entries(req.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) headers.push(key.toLowerCase(), v);
    }
    try {
      const res = await collect(
        this.client,
        { method: req.method, path: req.path, headers },
        req.body ? { kind: 'bytes', bytes: req.body } : { kind: 'none' },
        timeoutMs,
      );
      return { status: res.status, headers: headerRecord(res.headers), body: res.body };
    } catch (err) {
      throw await this.classify(err, timeoutMs);
    }
  }

  /**
   * Turn a failure of the exchange into what happened, on whose side. Only the function's
   * own faults (no answer in time, its process died) are fatal to the instance; the
   * gateway's side (its client went away, sent too much, stalled) never is (issue 9).
   */
  private async classify(err: unknown, timeoutMs: number): Promise<KilnError> {
    if (!(err instanceof ShimClientError)) {
      return new KilnError(
        'bad_function_response',
        `the function's answer could not be relayed: ${String(err)}`,
        502,
      );
    }
    switch (err.reason) {
      case 'timeout':
        return new KilnError('timeout', `the function did not answer within ${timeoutMs} ms`, 504);
      case 'body_too_large':
        return new KilnError('request_too_large', err.message, 413);
      case 'body_timeout':
        return new KilnError('request_timeout', 'the request body did not arrive in time', 408);
      case 'body_aborted':
      case 'aborted':
        return new KilnError('client_closed', 'the client went away before the answer', 499);
      case 'bad_response':
        return new KilnError(
          'bad_function_response',
          `the function's shim answered something that is not HTTP/1.1 (${err.message})`,
          502,
        );
      case 'reset':
        return new KilnError('function_connection_lost', err.message, 502);
      case 'connection_lost':
        break;
    }
    // The connection broke: did the process die? Its exit status tells how, as the OCI
    // runtime's driver reads it (an unrequested SIGKILL is the OOM killer: cli-driver.ts).
    const exit = await Promise.race([
      this.container.exited,
      new Promise<undefined>((r) => setTimeout(r, 2000)),
    ]);
    if (!exit) {
      // Still alive: the connection went, the instance did not. It stays in the pool.
      return new KilnError(
        'function_connection_lost',
        `the connection to the function broke during the request (${err.message}); try again`,
        502,
      );
    }
    if (this.container.exitCause(exit) === 'out_of_memory') {
      return new KilnError(
        'out_of_memory',
        'the function was killed for using more memory than its memoryMb limit',
        502,
      );
    }
    return new KilnError(
      'function_crashed',
      `the function's process died during the request (exit code ${exit.code ?? exit.signal})`,
      502,
    );
  }

  async destroy(): Promise<void> {
    this.moveTo('gone');
    clearTimeout(this.freezeTimer);
    this.client.destroy();
    // A frozen task does not act on SIGKILL until it is thawed (cgroup v1's freezer,
    // Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst).
    await this.freezer;
    if (this.cgroupFrozen) await this.container.cgroup.thaw().catch(() => undefined);
    await this.container.stop();
  }
}

/** A flat `[name, value, …]` list as a record; repeated names become arrays. */
function headerRecord(flat: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    const value = flat[i + 1]!;
    const had = out[name];
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return out;
}

/**
 * `KILN_SHIM_TRANSPORT=http` keeps every instance on HTTP/1.1 connections even when its shim
 * takes the multiplexed one: for comparing the two (bench/) and for debugging with HTTP tools.
 */
const useMux = process.env.KILN_SHIM_TRANSPORT !== 'http';

/** The transports an `/init` answer lists (`{"ok":true,"transports":[…]}`); none from older shims. */
function shimTransports(body: Buffer): string[] {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { transports?: unknown };
    return Array.isArray(parsed.transports) ? parsed.transports.filter((t) => typeof t === 'string') : [];
  } catch {
    return [];
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
