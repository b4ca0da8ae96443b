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

/** A point in a function's log: everything written before it (a segment and a byte offset in it). */
interface LogPosition {
  seq: number;
  size: number;
}

/** A follower's view: what was written before it started, then `start` for what comes after. */
export interface LogFollow {
  /** Every matching record written before the follow began, oldest first. */
  backlog: AsyncGenerator<LogRecord>;
  /** Deliver what was written since the follow began, then every later record, to `onRecord`. */
  start(): void;
  stop(): void;
}

interface Pending {
  text: string;
  record: LogRecord;
}

interface Writer {
  /** The segment being appended to; -1 until the disk was read. */
  seq: number;
  size: number;
  pending: Pending[];
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
 * Followers hear a record once it is written, so a follow's backlog (read from disk up to
 * a position taken while no write was in flight) and its live records meet exactly.
 * Reads go one segment at a time: a reader holds at most one segment in memory.
 */
export class LogStore {
  private readonly writers = new Map<string, Writer>();
  /** Bumped when a function's logs are removed: lines of its old instances are dropped after that. */
  private readonly generations = new Map<string, number>();
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

  /** The most bytes one function's logs take on disk (a segment may pass its size by one batch line). */
  get boundBytes(): number {
    return this.segmentBytes * this.segmentsPerFunction;
  }

  /** Which incarnation of `fn`'s logs a writer appends to (see `remove`). */
  generation(fn: string): number {
    return this.generations.get(fn) ?? 0;
  }

  /** Queue a record for writing; a record of a removed incarnation of its function is dropped. */
  append(record: LogRecord, generation = this.generation(record.function)): void {
    if (generation !== this.generation(record.function)) return;
    const writer = this.writerFor(record.function);
    const text = `${JSON.stringify(record)}\n`;
    if (writer.pendingBytes + text.length > this.maxPendingBytes) {
      writer.dropped++;
      return;
    }
    writer.pending.push({ text, record });
    writer.pendingBytes += text.length;
    if (!writer.flushing) writer.flushing = this.drain(record.function, writer);
  }

  /** Resolves when everything appended so far is on disk. */
  async flush(): Promise<void> {
    for (const writer of this.writers.values()) while (writer.flushing) await writer.flushing;
  }

  async query(fn: string, q: LogQuery = {}): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    for await (const record of this.records(fn, q)) out.push(record);
    return out;
  }

  /** Matching records, oldest first, up to `upTo` (default: everything appended so far). */
  async *records(fn: string, q: LogQuery = {}, upTo?: LogPosition): AsyncGenerator<LogRecord> {
    if (!upTo) await this.flushOne(fn);
    const seqs = (await this.segments(fn)).filter((seq) => !upTo || seq <= upTo.seq);
    const read = async (seq: number) => {
      const bytes = await readFile(this.segmentPath(fn, seq)).catch(() => Buffer.alloc(0));
      // Records are whole lines, so the cut lands on a newline.
      const upToCut = upTo && seq === upTo.seq ? bytes.subarray(0, upTo.size) : bytes;
      return upToCut
        .toString('utf8')
        .split('\n')
        .map(parseRecord)
        .filter((r): r is LogRecord => r !== undefined && matches(r, q));
    };
    if (q.tail === undefined) {
      for (const seq of seqs) yield* await read(seq);
      return;
    }
    // The last N: newest segments first, until there are enough.
    let kept: LogRecord[] = [];
    for (const seq of [...seqs].reverse()) {
      if (kept.length >= q.tail) break;
      kept = [...(await read(seq)), ...kept];
    }
    yield* kept.slice(Math.max(0, kept.length - q.tail));
  }

  /**
   * Follow `fn`'s log: the backlog up to now, then every later matching record. Nothing is
   * lost or repeated between the two: the cut is taken while no write is in flight.
   */
  async follow(fn: string, q: LogQuery, onRecord: (record: LogRecord) => void): Promise<LogFollow> {
    const writer = this.writerFor(fn);
    if (writer.seq < 0) {
      // Read where the log ends on disk, through the writer so nothing else writes meanwhile.
      writer.flushing ??= this.drain(fn, writer);
    }
    await this.flushOne(fn);
    // No write is in flight from here to the subscription (no await between): the cut is exact.
    const cut: LogPosition = { seq: writer.seq, size: writer.size };
    let buffered: LogRecord[] | undefined = [];
    const listener = (record: LogRecord) => {
      if (!matches(record, { ...q, tail: undefined })) return;
      if (buffered) buffered.push(record);
      else onRecord(record);
    };
    this.events.on(fn, listener);
    return {
      backlog: this.records(fn, q, cut),
      start: () => {
        const waiting = buffered ?? [];
        buffered = undefined;
        for (const record of waiting) onRecord(record);
      },
      stop: () => {
        this.events.off(fn, listener);
      },
    };
  }

  /** Follows of `fn` running now (each `follow` until its `stop`). */
  followers(fn: string): number {
    return this.events.listenerCount(fn);
  }

  /** Lines dropped for `fn` because writing fell behind. */
  dropped(fn: string): number {
    return this.writers.get(fn)?.dropped ?? 0;
  }

  /** Delete `fn`'s logs (the function was removed); its running instances' later lines are dropped. */
  async remove(fn: string): Promise<void> {
    this.generations.set(fn, this.generation(fn) + 1);
    await this.flushOne(fn);
    this.writers.delete(fn);
    await rm(path.join(this.root, fn), { recursive: true, force: true });
  }

  /** Functions that have logs on disk (`system prune` removes those of functions that are gone). */
  async functionsWithLogs(): Promise<string[]> {
    return (await readdir(this.root).catch(() => [] as string[])).filter((n) => FUNCTION_NAME.test(n));
  }

  /** Bytes on disk, for `system df`. */
  async diskUsage(fn?: string): Promise<number> {
    let total = 0;
    const fns = fn ? [fn] : await readdir(this.root).catch(() => [] as string[]);
    for (const name of fns) {
      for (const seq of await this.segments(name)) {
        total += (await stat(this.segmentPath(name, seq)).catch(() => ({ size: 0 }))).size;
      }
    }
    return total;
  }

  private writerFor(fn: string): Writer {
    // A function name becomes a directory name: only what spec validation allows.
    if (!FUNCTION_NAME.test(fn)) throw new Error(`log store: "${fn}" is not a function name`);
    let writer = this.writers.get(fn);
    if (!writer) {
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
        const batch: Pending[] = [];
        let bytes = 0;
        while (writer.pending.length && writer.size + bytes < this.segmentBytes) {
          const next = writer.pending.shift()!;
          batch.push(next);
          bytes += next.text.length;
        }
        writer.pendingBytes -= bytes;
        const data = Buffer.from(batch.map((p) => p.text).join(''));
        const fh = await open(this.segmentPath(fn, writer.seq), 'a', 0o600);
        try {
          await fh.write(data);
          writer.size += data.length;
        } finally {
          await fh.close();
        }
        for (const p of batch) this.events.emit(fn, p.record);
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
