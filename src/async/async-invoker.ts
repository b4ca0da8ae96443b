import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KilnError } from '../errors.js';
import {
  DEFAULT_ASYNC_RETENTION_MS,
  DEFAULT_ASYNC_RETRIES,
  DEFAULT_MAX_ASYNC_QUEUE,
} from '../functions/spec.js';
import { stripHopByHop } from '../pool/instance.js';
import type { ShimRequest, ShimResponse } from '../pool/shim-protocol.js';
import type { FunctionDirectory } from '../pool/warm-pool.js';
import type { AsyncStore } from './async-store.js';
import {
  type AsyncAttempt,
  type AsyncInvocation,
  type AsyncResult,
  type AsyncState,
  isFinished,
  publicView,
  shimRequestOf,
  storeBody,
} from './invocation.js';
import {
  type AttemptOutcome,
  afterFailure,
  asyncSlots,
  outcomeOfError,
  outcomeOfStatus,
  retryDelayMs,
} from './retry-policy.js';

/** What async work needs of the pool: the buffered invoke that sync requests use too. */
export interface AsyncTarget {
  invoke(name: string, req: ShimRequest): Promise<{ response: ShimResponse; version: number }>;
}

export interface AsyncOptions {
  /** First retry delay; each later one doubles, with jitter (`KILN_ASYNC_BACKOFF_MS`, default 1 s). */
  backoffMs?: number;
  /** The longest delay between two attempts (default 5 min). */
  backoffCapMs?: number;
  /** Tries to POST a result to its callback URL before giving up (default 5). */
  callbackTries?: number;
}

export interface AsyncSummary {
  id: string;
  function: string;
  state: AsyncState;
  createdAt: string;
  updatedAt: string;
  attempts: number;
  lastStatus?: number;
  lastError?: string;
}

/** How long to wait when a function's own queue was full (not the invocation's fault). */
const REQUEUE_DELAY_MS = 1000;
const CALLBACK_TIMEOUT_MS = 10_000;

/**
 * Fire-and-forget invocations (`POST /async/:name/*`): each is stored durably before it
 * is acknowledged, runs through the pool like a sync request (same instances, same
 * `maxInstances`), is retried on 5xx, timeouts and crashes with backoff, and ends
 * succeeded, failed (4xx) or dead (retries used up). Delivery is at least once: an attempt
 * a killed gateway was running is retried after restart, with the same invocation id
 * (`x-kiln-request-id`, hence the Lambda `awsRequestId`), so a function can deduplicate.
 *
 * Fair share with sync work: async invocations of a function hold at most half its slots
 * (`asyncSlots`); the rest wait here, not in the pool's queue, so sync requests never
 * queue behind more than that.
 */
export class AsyncInvoker {
  private readonly invocations = new Map<string, AsyncInvocation>();
  /** Per function: invocations due now, oldest first. */
  private readonly ready = new Map<string, string[]>();
  private readonly running = new Map<string, number>();
  /** Per function: invocations queued (due or waiting for a retry), for `maxAsyncQueue`. */
  private readonly queued = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Per invocation: its writes in order (a later state never lands under an earlier one). */
  private readonly writes = new Map<string, Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly backoffMs: number;
  private readonly backoffCapMs: number;
  private readonly callbackTries: number;

  constructor(
    private readonly store: AsyncStore,
    private readonly functions: FunctionDirectory,
    private readonly target: AsyncTarget,
    options: AsyncOptions = {},
  ) {
    this.backoffMs = options.backoffMs ?? 1000;
    this.backoffCapMs = options.backoffCapMs ?? 300_000;
    this.callbackTries = options.callbackTries ?? 5;
  }

  /**
   * Load what the last run left: queued invocations run; one that was running when the
   * gateway died counts a failed attempt (`gateway_restarted`) and is retried; callbacks
   * not yet delivered are sent.
   */
  async open(): Promise<void> {
    const loaded = await this.store.loadAll();
    loaded.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (const inv of loaded) {
      this.invocations.set(inv.id, inv);
      if (inv.state === 'queued') this.count(inv.function, 1);
    }
    for (const inv of loaded) {
      if (inv.state === 'running') {
        this.count(inv.function, 1);
        inv.state = 'queued';
        const last = inv.attempts.at(-1);
        if (last && !last.endedAt) {
          last.endedAt = new Date().toISOString();
          last.error = {
            code: 'gateway_restarted',
            message: 'the gateway stopped during this attempt; it may have run in part',
          };
        }
        await this.afterRetryable(inv, last?.number ?? 0);
      } else if (inv.state === 'queued') {
        this.schedule(inv);
      } else if (inv.callback?.state === 'pending') {
        void this.deliver(inv);
      }
    }
    this.sweeper = setInterval(() => void this.sweep(), 1000);
    this.sweeper.unref();
  }

  /**
   * Accept an invocation: checked, stored durably, then queued. Resolves once the record
   * is on disk, so the caller may answer 202.
   */
  async submit(
    name: string,
    req: ShimRequest,
    options: { callbackUrl?: string } = {},
  ): Promise<AsyncInvocation> {
    if (this.closed) throw new KilnError('shutting_down', 'Kiln is shutting down', 503);
    const fn = this.functions.active(name);
    const waiting = this.queued.get(name) ?? 0;
    const maxAsyncQueue = fn.spec.maxAsyncQueue ?? DEFAULT_MAX_ASYNC_QUEUE;
    if (waiting >= maxAsyncQueue) {
      throw new KilnError(
        'async_queue_full',
        `function "${name}" has ${waiting} async invocations waiting (maxAsyncQueue ${maxAsyncQueue}); retry later`,
        429,
        { 'retry-after': String(Math.max(1, Math.ceil(this.backoffMs / 1000))) },
      );
    }
    const now = new Date().toISOString();
    const inv: AsyncInvocation = {
      id: randomUUID(),
      function: name,
      state: 'queued',
      createdAt: now,
      updatedAt: now,
      attempts: [],
      request: {
        method: req.method,
        path: req.path,
        headers: stripHopByHop(req.headers),
        body: req.body ? storeBody(req.body) : undefined,
      },
    };
    if (options.callbackUrl !== undefined)
      inv.callback = { url: checkCallbackUrl(options.callbackUrl), state: 'pending', attempts: 0 };
    // Counted before the write, so concurrent submits cannot overfill the queue.
    this.count(name, 1);
    try {
      await this.save(inv);
    } catch (err) {
      this.count(name, -1);
      throw err;
    }
    this.invocations.set(inv.id, inv);
    this.schedule(inv);
    return inv;
  }

  get(id: string): AsyncInvocation {
    const inv = this.invocations.get(id);
    if (!inv)
      throw new KilnError(
        'invocation_not_found',
        `no async invocation ${id} (finished ones are kept for the function's asyncRetentionMs)`,
        404,
      );
    return inv;
  }

  has(id: string): boolean {
    return this.invocations.has(id);
  }

  view(id: string) {
    return publicView(this.get(id));
  }

  list(filter: { state?: AsyncState; function?: string } = {}): AsyncSummary[] {
    const out: AsyncSummary[] = [];
    for (const inv of this.invocations.values()) {
      if (filter.state && inv.state !== filter.state) continue;
      if (filter.function && inv.function !== filter.function) continue;
      const last = inv.attempts.at(-1);
      out.push({
        id: inv.id,
        function: inv.function,
        state: inv.state,
        createdAt: inv.createdAt,
        updatedAt: inv.updatedAt,
        attempts: inv.attempts.length,
        lastStatus: last?.status,
        lastError: last?.error?.code,
      });
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Re-drive a dead (or failed) invocation: queued again with a fresh set of retries. */
  async retry(id: string): Promise<AsyncInvocation> {
    const inv = this.get(id);
    if (inv.state !== 'dead' && inv.state !== 'failed') {
      throw new KilnError(
        'invocation_not_retryable',
        `invocation ${id} has state ${inv.state}; only a dead or failed invocation can be retried`,
        409,
      );
    }
    inv.state = 'queued';
    inv.redriveFrom = inv.attempts.length;
    inv.result = undefined;
    inv.finishedAt = undefined;
    inv.expiresAt = undefined;
    inv.notBefore = undefined;
    if (inv.callback) inv.callback = { url: inv.callback.url, state: 'pending', attempts: 0 };
    this.count(inv.function, 1);
    await this.save(inv);
    this.schedule(inv);
    return inv;
  }

  /** Stop dispatching. Attempts in flight are not waited for: they stay `running` on disk and run again after restart. */
  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Invocations waiting or running, per function (for tests and `kiln async ls`). */
  pending(name: string): number {
    return (this.queued.get(name) ?? 0) + (this.running.get(name) ?? 0);
  }

  private count(name: string, delta: number): void {
    this.queued.set(name, (this.queued.get(name) ?? 0) + delta);
  }

  private schedule(inv: AsyncInvocation): void {
    if (this.closed) return;
    const wait = inv.notBefore ? Date.parse(inv.notBefore) - Date.now() : 0;
    if (wait > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.schedule(inv);
      }, wait);
      timer.unref();
      this.timers.add(timer);
      return;
    }
    let list = this.ready.get(inv.function);
    if (!list) {
      list = [];
      this.ready.set(inv.function, list);
    }
    list.push(inv.id);
    this.pump(inv.function);
  }

  private pump(name: string): void {
    if (this.closed) return;
    const list = this.ready.get(name);
    if (!list?.length) return;
    let slots: number;
    try {
      const { spec } = this.functions.active(name);
      slots = asyncSlots(spec.maxInstances, spec.concurrency);
    } catch {
      // The function is gone: what waited for it cannot run.
      slots = Number.POSITIVE_INFINITY;
    }
    while (list.length && (this.running.get(name) ?? 0) < slots) {
      const inv = this.invocations.get(list.shift()!);
      if (inv?.state !== 'queued') continue;
      this.running.set(name, (this.running.get(name) ?? 0) + 1);
      void this.attempt(inv)
        .catch((err: Error) => console.error(`kiln: async invocation ${inv.id}: ${err.message}`))
        .finally(() => {
          this.running.set(name, (this.running.get(name) ?? 0) - 1);
          this.pump(name);
        });
    }
  }

  private async attempt(inv: AsyncInvocation): Promise<void> {
    const attempt: AsyncAttempt = { number: inv.attempts.length + 1, startedAt: new Date().toISOString() };
    inv.attempts.push(attempt);
    inv.state = 'running';
    inv.notBefore = undefined;
    this.count(inv.function, -1);
    // Recorded before the function sees it: after a crash, the attempt is known and counted.
    await this.save(inv);
    const started = performance.now();
    const req = shimRequestOf(inv);
    // The same id on every attempt: the shims make x-kiln-request-id the Lambda awsRequestId.
    req.headers['x-kiln-request-id'] = inv.id;
    req.headers['x-kiln-invocation-id'] = inv.id;
    req.headers['x-kiln-attempt'] = String(attempt.number);
    let outcome: AttemptOutcome;
    let result: AsyncResult | undefined;
    try {
      const answer = await this.target.invoke(inv.function, req);
      attempt.version = answer.version;
      attempt.status = answer.response.status;
      result = {
        status: answer.response.status,
        headers: answer.response.headers,
        body: storeBody(answer.response.body),
      };
      // A raw invoke (Lambda's Invoke API, `Event`) answers a handler's exception as a 200.
      const functionError = answer.response.headers['x-kiln-function-error'];
      if (functionError !== undefined)
        attempt.error = { code: 'function_error', message: `the handler failed (${String(functionError)})` };
      outcome = outcomeOfStatus(answer.response.status, functionError !== undefined);
    } catch (err) {
      const code = err instanceof KilnError ? err.code : 'internal_error';
      attempt.error = { code, message: (err as Error).message };
      outcome = outcomeOfError(code, err instanceof KilnError ? err.status : 500);
    }
    // Stopping: the record stays `running` on disk and the attempt is retried after restart.
    if (this.closed) return;
    attempt.endedAt = new Date().toISOString();
    attempt.durationMs = Math.round(performance.now() - started);
    if (result) inv.result = result;
    if (outcome.kind === 'final') {
      await this.finish(inv, outcome.state);
    } else if (outcome.kind === 'requeue') {
      inv.attempts.pop();
      inv.state = 'queued';
      inv.notBefore = new Date(Date.now() + REQUEUE_DELAY_MS).toISOString();
      this.count(inv.function, 1);
      await this.save(inv);
      this.schedule(inv);
    } else {
      inv.state = 'queued';
      this.count(inv.function, 1);
      await this.afterRetryable(inv, attempt.number);
    }
  }

  /** A queued invocation whose attempt `number` failed in a retryable way: retry later, or dead. */
  private async afterRetryable(inv: AsyncInvocation, number: number): Promise<void> {
    const retries = this.specOf(inv.function)?.asyncRetries ?? DEFAULT_ASYNC_RETRIES;
    if (afterFailure(number - (inv.redriveFrom ?? 0), retries) === 'dead') {
      await this.finish(inv, 'dead');
      return;
    }
    const delay = retryDelayMs(number, this.backoffMs, this.backoffCapMs, Math.random());
    inv.notBefore = new Date(Date.now() + delay).toISOString();
    await this.save(inv);
    this.schedule(inv);
  }

  private async finish(inv: AsyncInvocation, state: 'succeeded' | 'failed' | 'dead'): Promise<void> {
    if (inv.state === 'queued') this.count(inv.function, -1);
    inv.state = state;
    const now = Date.now();
    inv.finishedAt = new Date(now).toISOString();
    const retention = this.specOf(inv.function)?.asyncRetentionMs ?? DEFAULT_ASYNC_RETENTION_MS;
    inv.expiresAt = new Date(now + retention).toISOString();
    inv.notBefore = undefined;
    await this.save(inv);
    if (inv.callback?.state === 'pending') void this.deliver(inv);
  }

  private specOf(name: string) {
    try {
      return this.functions.active(name).spec;
    } catch {
      return undefined;
    }
  }

  /** POST the finished invocation to its callback URL, retried with backoff; the outcome is recorded. */
  private async deliver(inv: AsyncInvocation): Promise<void> {
    const callback = inv.callback;
    while (callback && callback.state === 'pending' && !this.closed) {
      callback.attempts++;
      try {
        const res = await fetch(callback.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-kiln-invocation-id': inv.id },
          body: JSON.stringify(publicView(inv)),
          redirect: 'manual',
          signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          callback.state = 'delivered';
          callback.deliveredAt = new Date().toISOString();
          callback.lastError = undefined;
        } else {
          callback.lastError = `HTTP ${res.status}`;
        }
      } catch (err) {
        const cause = (err as Error & { cause?: Error }).cause;
        callback.lastError = cause?.message ?? (err as Error).message;
      }
      if (callback.state === 'pending' && callback.attempts >= this.callbackTries) callback.state = 'failed';
      if (this.closed) return;
      await this.save(inv);
      if (callback.state === 'pending')
        await sleep(
          retryDelayMs(callback.attempts, this.backoffMs, this.backoffCapMs, Math.random()),
          undefined,
          {
            ref: false,
          },
        );
    }
  }

  /** Remove finished invocations past their retention (not while a callback is still being sent). */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const inv of [...this.invocations.values()]) {
      if (!isFinished(inv.state) || !inv.expiresAt || Date.parse(inv.expiresAt) > now) continue;
      if (inv.callback?.state === 'pending') continue;
      this.invocations.delete(inv.id);
      await this.chain(inv.id, () => this.store.remove(inv.id)).catch((err: Error) =>
        console.error(`kiln: removing async invocation ${inv.id}: ${err.message}`),
      );
    }
  }

  private save(inv: AsyncInvocation): Promise<void> {
    inv.updatedAt = new Date().toISOString();
    const snapshot = structuredClone(inv);
    return this.chain(inv.id, () => this.store.save(snapshot));
  }

  private chain(id: string, write: () => Promise<void>): Promise<void> {
    const next = (this.writes.get(id) ?? Promise.resolve()).catch(() => undefined).then(write);
    this.writes.set(id, next);
    void next
      .catch(() => undefined)
      .finally(() => {
        if (this.writes.get(id) === next) this.writes.delete(id);
      });
    return next;
  }
}

/** A callback URL: http or https, nothing else (no file:, data:, …). */
export function checkCallbackUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KilnError('invalid_callback_url', `x-callback-url "${raw}" is not a URL`, 400);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new KilnError(
      'invalid_callback_url',
      `x-callback-url must be http or https, got ${url.protocol}`,
      400,
    );
  return url.toString();
}
