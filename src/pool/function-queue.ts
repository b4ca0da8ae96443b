import PQueue from 'p-queue';
import { KilnError } from '../errors.js';

/**
 * Bounds one function's work: at most `slots` requests run at once (maxInstances ×
 * concurrency), up to `maxQueue` more wait their turn, and the rest are refused at once
 * with 429 and `Retry-After`. Every request gets exactly one answer.
 */
export class FunctionQueue {
  private readonly queue: PQueue;
  private maxQueue: number;

  constructor(slots: number, maxQueue: number) {
    this.queue = new PQueue({ concurrency: slots });
    this.maxQueue = maxQueue;
  }

  /** Settings follow the active version; work already admitted keeps its place. */
  resize(slots: number, maxQueue: number): void {
    if (this.queue.concurrency !== slots) this.queue.concurrency = slots;
    this.maxQueue = maxQueue;
  }

  run<T>(name: string, task: () => Promise<T>): Promise<T> {
    if (this.queue.pending >= this.queue.concurrency && this.queue.size >= this.maxQueue) {
      throw new KilnError(
        'queue_full',
        `function "${name}" has ${this.queue.pending} requests running and ${this.queue.size} waiting (maxQueue ${this.maxQueue}); retry shortly`,
        429,
        { 'retry-after': '1' },
      );
    }
    return this.queue.add(task) as Promise<T>;
  }
}
