import { availableParallelism } from 'node:os';
import { KilnError } from '../errors.js';

/** Starts for requests that wait go first; stem-cell refills and `minInstances` top-ups after. */
export type StartPriority = 'request' | 'background';

/**
 * A bound on container starts in flight across every function (issue 8 item 7): a start is
 * mostly CPU (the runtime, the language's loading), so a storm of first requests over many
 * functions that started all of them at once took every start past its readiness deadline
 * (`instance_start_failed`: 153 of 200 requests in one run). Here at most `limit` starts
 * run; the others wait their turn, request starts before background ones, and past
 * `maxWaiting` waiting a start is refused with 503 `start_queue_full` and `Retry-After`.
 * Every start's caller gets exactly one answer.
 */
export class StartAdmission {
  private running = 0;
  private readonly waiting: Record<StartPriority, Array<() => void>> = { request: [], background: [] };

  constructor(
    readonly limit = defaultStartLimit(),
    readonly maxWaiting = 10_000,
  ) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`start limit must be a positive integer, not ${limit}`);
  }

  /** Starts running now, and waiting to. */
  get counts(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.request.length + this.waiting.background.length };
  }

  /** Run `start` when a start slot is free; the slot is held until it settles. */
  async run<T>(start: () => Promise<T>, priority: StartPriority = 'request'): Promise<T> {
    if (this.running >= this.limit) {
      if (this.counts.waiting >= this.maxWaiting) {
        throw new KilnError(
          'start_queue_full',
          `${this.running} instances are starting and ${this.counts.waiting} more wait to; retry shortly`,
          503,
          { 'retry-after': '1' },
        );
      }
      await new Promise<void>((resolve) => this.waiting[priority].push(resolve));
    } else {
      this.running++;
    }
    try {
      return await start();
    } finally {
      const next = this.waiting.request.shift() ?? this.waiting.background.shift();
      // The slot passes straight to the next start: `running` stays as it is.
      if (next) next();
      else this.running--;
    }
  }
}

/**
 * Two starts per core, at least two: a start waits on I/O (mounts, the runtime's exec, the
 * shim's socket) about as long as it computes, so one per core leaves cores idle. The
 * storm test (test/containment/start-storm.test.ts) holds at this bound on two cores.
 * `KILN_MAX_STARTS` sets it.
 */
export function defaultStartLimit(
  cores = availableParallelism(),
  env: string | undefined = process.env.KILN_MAX_STARTS,
): number {
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1)
      throw new KilnError('invalid_config', `KILN_MAX_STARTS must be a positive integer, got "${env}"`, 500);
    return n;
  }
  return Math.max(2, cores * 2);
}
