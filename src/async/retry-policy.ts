import type { AsyncState } from './invocation.js';

/**
 * Pure decisions of async invocations: what an attempt's outcome means, how long to wait
 * before the next one, and how many of a function's slots async work may hold.
 */

/** The delay before attempt `attempt + 1`: exponential from `baseMs`, capped, with "equal
 * jitter" (half fixed, half random) so retries of many failed invocations spread out
 * instead of arriving together (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export function retryDelayMs(attempt: number, baseMs: number, capMs: number, random: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

export type AttemptOutcome =
  /** A final answer: the invocation ends in this state. */
  | { kind: 'final'; state: Extract<AsyncState, 'succeeded' | 'failed'> }
  /** A failure worth retrying (5xx, timeout, crash, the gateway restarted mid-attempt). */
  | { kind: 'retry' }
  /** Not the function's doing (its queue is full, the gateway is stopping): try again, not counted. */
  | { kind: 'requeue' };

/**
 * An attempt's outcome from the function's answer: 5xx retries, as Lambda retries function
 * errors; so does a raw invoke's 200 that carries a function error (the handler threw:
 * `x-kiln-function-error`, Lambda's `X-Amz-Function-Error`), which Lambda's `Event`
 * invocations retry too (AWS Lambda Developer Guide, "Error handling and automatic retries").
 */
export function outcomeOfStatus(status: number, functionError = false): AttemptOutcome {
  if (status >= 500 || functionError) return { kind: 'retry' };
  if (status >= 400) return { kind: 'final', state: 'failed' };
  return { kind: 'final', state: 'succeeded' };
}

/** An attempt's outcome from a Kiln error code and status (no answer from the function). */
export function outcomeOfError(code: string, status: number): AttemptOutcome {
  if (code === 'queue_full' || code === 'shutting_down') return { kind: 'requeue' };
  if (status >= 500) return { kind: 'retry' };
  return { kind: 'final', state: 'failed' };
}

/** After a retryable failure of attempt `attempts`: retry, or dead when `retries` are used up. */
export function afterFailure(attempts: number, retries: number): 'retry' | 'dead' {
  return attempts <= retries ? 'retry' : 'dead';
}

/**
 * How many invocations of one function async work may run at once: half its slots
 * (maxInstances × concurrency), at least one. Sync requests always keep the other half;
 * with one slot, async and sync take turns through the function's FIFO queue, so a sync
 * request waits for at most one async invocation.
 */
export function asyncSlots(maxInstances: number, concurrency: number): number {
  return Math.max(1, Math.floor((maxInstances * concurrency) / 2));
}
