import { EventEmitter } from 'node:events';
import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** One line a function wrote, with where and when it came from. */
export interface LogRecord {
  /** ISO 8601, when the gateway read the line. */
  time: string;
  function: string;
  version: number;
  instance: string;
  /** The request the line belongs to, when the shim said so or the instance ran only one. */
  requestId?: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface LogQuery {
  /** Only records at or after this time (epoch ms). */
  since?: number;
  /** Only the last N records (after the other filters). */
  tail?: number;
  requestId?: string;
}

export interface LogStoreOptions {
  /** A segment file is closed and a new one started past this size. */
  segmentBytes?: number;
  /** Segments kept per function; the oldest is deleted when one more starts. */
  segmentsPerFunction?: number;
  /** Bytes waiting to be written per function before new lines are dropped (a slow disk). */
  maxPendingBytes?: number;
}

interface Writer {
  seq: number;
  size: number;
  pending: string[];
  pendingBytes: number;
  dropped: number;
  flushing: Promise<void> | undefined;
}

const SEGMENT = /^(\d{12})\.jsonl$/;
const FUNCTION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Function logs in the data dir (`logs/<function>/<seq>.jsonl`, one JSON record a line):
 * they outlive the instance that wrote them and the gateway that captured them. Bounded
 * per function (`segmentsPerFunction × segmentBytes`, oldest segment deleted first), so
 * no function can fill the disk with its output. Lines are appended in batches, without
 * fsync: a crash may lose the last batch or tear the last line, which readers skip.
 */
export class LogStore {
  private readonly writers = new Map<string, Writer>();
  private readonly events = new EventEmitter();
  private readonly segmentBytes: number;
  private readonly segmentsPerFunction: number;
  private readonly maxPendingBytes: number;

  constructor(
    readonly root: string,
    options: LogStoreOptions = {},
  ) {
    this.segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.segmentsPerFunction = options.segmentsPerFunction ?? 8;
    this.maxPendingBytes = options.maxPendingBytes ?? 8 * 1024 * 1024;
    this.events.setMaxListeners(0);
  }

  /** Queue a record for writing and hand it to followers at once. */
  append(record: LogRecord): void {
    const writer = this.writerFor(record.function);
    const text = `${JSON.stringify(record)}\n`;
    if (writer.pendingBytes + text.length > this.maxPendingBytes) {
      writer.dropped++;
      return;
    }
    writer.pending.push(text);
    writer.pendingBytes += text.length;
    this.events.emit(record.function, record);
    if (!writer.flushing) writer.flushing = this.drain(record.function, writer);
  }

  /** Resolves when everything appended so far is on disk. */
  async flush(): Promise<void> {
    for (const writer of this.writers.values()) while (writer.flushing) await writer.flushing;
  }

  async query(fn: string, q: LogQuery = {}): Promise<LogRecord[]> {
    await this.flushOne(fn);
    const out: LogRecord[] = [];
    for (const seq of await this.segments(fn)) {
      const text = await readFile(this.segmentPath(fn, seq), 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        const record = parseRecord(line);
        if (record && matches(record, q)) out.push(record);
      }
    }
    return q.tail !== undefined ? out.slice(Math.max(0, out.length - q.tail)) : out;
  }

  /** Call `onRecord` for every later record of `fn` that matches; returns the unsubscribe. */
  follow(fn: string, q: LogQuery, onRecord: (record: LogRecord) => void): () => void {
    const listener = (record: LogRecord) => {
      if (matches(record, { ...q, tail: undefined })) onRecord(record);
    };
    this.events.on(fn, listener);
    return () => this.events.off(fn, listener);
  }

  /** Lines dropped for `fn` because writing fell behind (shown by `system df`-style reports). */
  dropped(fn: string): number {
    return this.writers.get(fn)?.dropped ?? 0;
  }

  async remove(fn: string): Promise<void> {
    await this.flushOne(fn);
    this.writers.delete(fn);
    await rm(path.join(this.root, fn), { recursive: true, force: true });
  }

  /** Bytes on disk, for `system df`. */
  async diskUsage(): Promise<number> {
    let total = 0;
    for (const fn of await readdir(this.root).catch(() => [] as string[])) {
      for (const seq of await this.segments(fn)) {
        total += (await stat(this.segmentPath(fn, seq)).catch(() => ({ size: 0 }))).size;
      }
    }
    return total;
  }

  private writerFor(fn: string): Writer {
    // A function name becomes a directory name: only what spec validation allows.
    if (!FUNCTION_NAME.test(fn)) throw new Error(`log store: "${fn}" is not a function name`);
    let writer = this.writers.get(fn);
    if (!writer) {
      // seq -1: the first drain looks at the disk for the newest segment.
      writer = { seq: -1, size: 0, pending: [], pendingBytes: 0, dropped: 0, flushing: undefined };
      this.writers.set(fn, writer);
    }
    return writer;
  }

  private async flushOne(fn: string): Promise<void> {
    const writer = this.writers.get(fn);
    while (writer?.flushing) await writer.flushing;
  }

  private async drain(fn: string, writer: Writer): Promise<void> {
    try {
      await mkdir(path.join(this.root, fn), { recursive: true });
      if (writer.seq < 0) {
        const existing = await this.segments(fn);
        writer.seq = existing.at(-1) ?? 0;
        writer.size = await stat(this.segmentPath(fn, writer.seq)).then(
          (s) => s.size,
          () => 0,
        );
      }
      while (writer.pending.length) {
        if (writer.size >= this.segmentBytes) await this.rotate(fn, writer);
        // One segment's worth at most per write, so rotation keeps segments near their size.
        const batch: string[] = [];
        let bytes = 0;
        while (writer.pending.length && writer.size + bytes < this.segmentBytes) {
          const next = writer.pending.shift()!;
          batch.push(next);
          bytes += next.length;
        }
        writer.pendingBytes -= bytes;
        const fh = await open(this.segmentPath(fn, writer.seq), 'a', 0o600);
        try {
          const data = Buffer.from(batch.join(''));
          await fh.write(data);
          writer.size += data.length;
        } finally {
          await fh.close();
        }
      }
    } catch (err) {
      // Logs must never take the gateway down: what could not be written is counted.
      writer.dropped += writer.pending.length;
      writer.pending = [];
      writer.pendingBytes = 0;
      console.error(`kiln: writing logs of ${fn} failed: ${(err as Error).message}`);
    } finally {
      writer.flushing = undefined;
    }
  }

  private async rotate(fn: string, writer: Writer): Promise<void> {
    writer.seq++;
    writer.size = 0;
    const all = await this.segments(fn);
    const excess = all.length + 1 - this.segmentsPerFunction;
    for (const seq of all.slice(0, Math.max(0, excess))) await rm(this.segmentPath(fn, seq), { force: true });
  }

  private async segments(fn: string): Promise<number[]> {
    const names = await readdir(path.join(this.root, fn)).catch(() => [] as string[]);
    return names
      .map((n) => SEGMENT.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  private segmentPath(fn: string, seq: number): string {
    return path.join(this.root, fn, `${String(seq).padStart(12, '0')}.jsonl`);
  }
}

function parseRecord(line: string): LogRecord | undefined {
  if (!line) return undefined;
  try {
    return JSON.parse(line) as LogRecord;
  } catch {
    return undefined; // a line torn by a crash
  }
}

function matches(record: LogRecord, q: LogQuery): boolean {
  if (q.requestId !== undefined && record.requestId !== q.requestId) return false;
  if (q.since !== undefined && Date.parse(record.time) < q.since) return false;
  return true;
}
