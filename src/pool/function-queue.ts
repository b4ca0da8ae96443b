import { KilnError } from '../errors.js';

/** A request's place among a function's running work; `free` gives it back, once. */
export type QueueSlot = () => void;

/**
 * Bounds one function's work: at most `slots` requests hold a slot at once (maxInstances ×
 * concurrency), up to `maxQueue` more wait their turn in arrival order, and the rest are
 * refused at once with 429 and `Retry-After`. A slot is held from admission until the
 * caller frees it (`WarmPool.acquire` frees it when its lease is released), so streaming
 * responses keep their slot for as long as they run. Every request gets exactly one answer.
 */
export class FunctionQueue {
  private running = 0;
  private readonly waiting: Array<(slot: QueueSlot) => void> = [];

  constructor(
    private slots: number,
    private maxQueue: number,
  ) {}

  /** Settings follow the active version; work already admitted keeps its place. */
  resize(slots: number, maxQueue: number): void {
    this.slots = slots;
    this.maxQueue = maxQueue;
    this.admitWaiting();
  }

  /** Requests holding a slot, and requests waiting for one. */
  get counts(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /**
   * A slot now (returned as is, so the caller's turn is this very tick), or a promise of one
   * once one frees (FIFO); throws 429 `queue_full` when `maxQueue` requests already wait.
   */
  enter(name: string): QueueSlot | Promise<QueueSlot> {
    if (this.running < this.slots && this.waiting.length === 0) return this.take();
    if (this.waiting.length >= this.maxQueue) {
      throw new KilnError(
        'queue_full',
        `function "${name}" has ${this.running} requests running and ${this.waiting.length} waiting (maxQueue ${this.maxQueue}); retry shortly`,
        429,
        { 'retry-after': '1' },
      );
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private take(): QueueSlot {
    this.running++;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      this.running--;
      this.admitWaiting();
    };
  }

  private admitWaiting(): void {
    while (this.running < this.slots && this.waiting.length > 0) this.waiting.shift()?.(this.take());
  }
}
