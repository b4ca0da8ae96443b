import { describe, expect, it } from 'vitest';
import { afterFailure, asyncSlots, outcomeOfError, outcomeOfStatus, retryDelayMs } from './retry-policy.js';

describe('async retry policy', () => {
  it('doubles the delay per attempt, with half of it jittered, up to the cap', () => {
    expect(retryDelayMs(1, 1000, 300_000, 0)).toBe(500);
    expect(retryDelayMs(1, 1000, 300_000, 1)).toBe(1000);
    expect(retryDelayMs(3, 1000, 300_000, 0.5)).toBe(3000);
    expect(retryDelayMs(30, 1000, 300_000, 1)).toBe(300_000);
  });

  it('retries 5xx, timeouts and crashes; not 4xx', () => {
    expect(outcomeOfStatus(200)).toEqual({ kind: 'final', state: 'succeeded' });
    expect(outcomeOfStatus(302)).toEqual({ kind: 'final', state: 'succeeded' });
    expect(outcomeOfStatus(404)).toEqual({ kind: 'final', state: 'failed' });
    expect(outcomeOfStatus(500)).toEqual({ kind: 'retry' });
    expect(outcomeOfStatus(200, true)).toEqual({ kind: 'retry' });
    expect(outcomeOfError('timeout', 504)).toEqual({ kind: 'retry' });
    expect(outcomeOfError('function_crashed', 502)).toEqual({ kind: 'retry' });
    expect(outcomeOfError('function_not_found', 404)).toEqual({ kind: 'final', state: 'failed' });
    expect(outcomeOfError('queue_full', 429)).toEqual({ kind: 'requeue' });
  });

  it('is dead once the retries are used up', () => {
    expect(afterFailure(1, 2)).toBe('retry');
    expect(afterFailure(2, 2)).toBe('retry');
    expect(afterFailure(3, 2)).toBe('dead');
    expect(afterFailure(1, 0)).toBe('dead');
  });

  it('gives async work half the slots, at least one', () => {
    expect(asyncSlots(10, 1)).toBe(5);
    expect(asyncSlots(1, 1)).toBe(1);
    expect(asyncSlots(3, 1)).toBe(1);
    expect(asyncSlots(2, 4)).toBe(4);
  });
});
