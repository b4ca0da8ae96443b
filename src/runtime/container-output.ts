export type OutputStream = 'stdout' | 'stderr';

/**
 * Where a container's stdout and stderr go once the container belongs to a function
 * (src/logs implements it with its caps). Calls come in the order things happened.
 */
export interface OutputSink {
  write(stream: OutputStream, chunk: Buffer): void;
  /**
   * A request began or ended on the container (the pool says so): a line that names no
   * request of its own is attributed from this.
   */
  request(id: string, event: 'start' | 'end'): void;
  /** Both streams ended: the container is gone. */
  end(): void;
}

/** Bytes of recent output kept per container for start and load error messages. */
const TAIL_BYTES = 8 * 1024;

/**
 * A container's stdout and stderr as the gateway reads them from the OCI runtime's pipes.
 * The last few KiB stay in memory (`tail`: what an `instance_start_failed` or
 * `handler_load_failed` message quotes); everything goes to the sink attached, if any. A
 * stem cell has none until it is specialized: what it wrote before belongs to no function
 * and only ever reaches the tail.
 */
export class ContainerOutput {
  private sink: OutputSink | undefined;
  private ring: Buffer[] = [];
  private ringBytes = 0;
  private open = 2;
  private whenClosed!: () => void;
  /** Both streams ended: everything the container wrote has been handed on. */
  readonly closed = new Promise<void>((resolve) => {
    this.whenClosed = resolve;
  });

  attach(sink: OutputSink): void {
    this.sink = sink;
    if (this.open === 0) sink.end();
  }

  write(stream: OutputStream, chunk: Buffer): void {
    this.keep(chunk);
    this.sink?.write(stream, chunk);
  }

  /** One of the two streams ended; the sink hears `end` after both. */
  close(): void {
    if (--this.open !== 0) return;
    this.sink?.end();
    this.whenClosed();
  }

  request(id: string, event: 'start' | 'end'): void {
    this.sink?.request(id, event);
  }

  /** The end of what the container wrote, both streams interleaved as they were read. */
  tail(bytes = TAIL_BYTES): string {
    const all = Buffer.concat(this.ring).toString('utf8');
    return all.slice(-bytes);
  }

  private keep(chunk: Buffer): void {
    // Copy the kept part: a slice would pin the whole read buffer (64 KiB) in memory.
    const part = chunk.length > TAIL_BYTES ? Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES)) : chunk;
    this.ring.push(part);
    this.ringBytes += part.length;
    while (this.ringBytes - (this.ring[0]?.length ?? 0) >= TAIL_BYTES) {
      this.ringBytes -= this.ring.shift()!.length;
    }
  }
}
