import { StringDecoder } from 'node:string_decoder';

/** What a capture hands on: one complete line (without its newline), or a note that lines were dropped. */
export type CapturedLine = { kind: 'line'; text: string } | { kind: 'dropped'; lines: number; bytes: number };

export interface LineCaptureOptions {
  /** Longer lines are cut here and marked; the rest of such a line is dropped. */
  maxLineBytes?: number;
  /** Sustained rate a container may log at (bytes per second). */
  bytesPerSecond?: number;
  /** Burst allowance above the rate. */
  burstBytes?: number;
  now?: () => number;
}

const TRUNCATED = ' [kiln: line truncated]';

/**
 * Turns one container stream's chunks into lines, with a cap per line and a token-bucket
 * cap per stream: a function that floods its output loses the excess (and is told how
 * much, once it calms down) instead of filling the host's disk or the gateway's memory.
 * Measured with a flood of 1 GiB in 0.55 s (issue 8), which an uncapped file took whole.
 */
export class LineCapture {
  /** A character split across two reads stays whole. */
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private partialCut = false;
  private tokens: number;
  private last: number;
  private droppedLines = 0;
  private droppedBytes = 0;
  private lastReport: number;
  private readonly maxLine: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(
    private readonly emit: (line: CapturedLine) => void,
    options: LineCaptureOptions = {},
  ) {
    this.maxLine = options.maxLineBytes ?? 16 * 1024;
    this.rate = options.bytesPerSecond ?? 256 * 1024;
    this.burst = options.burstBytes ?? 2 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.tokens = this.burst;
    this.last = this.now();
    this.lastReport = this.last;
  }

  write(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.add(text.slice(start, nl));
      this.finishLine();
      start = nl + 1;
    }
    if (start < text.length) this.add(text.slice(start));
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    const rest = this.decoder.end();
    if (rest) this.add(rest);
    if (this.partial || this.partialCut) this.finishLine();
    this.reportDropped();
  }

  private add(piece: string): void {
    if (this.partialCut) return;
    const room = this.maxLine - this.partial.length;
    if (piece.length > room) {
      this.partial += piece.slice(0, Math.max(0, room));
      this.partialCut = true;
    } else {
      this.partial += piece;
    }
  }

  private finishLine(): void {
    const line = (this.partialCut ? this.partial + TRUNCATED : this.partial).replace(/\r$/, '');
    this.partial = '';
    this.partialCut = false;
    this.refill();
    const cost = line.length + 1;
    if (this.tokens < cost) {
      this.droppedLines++;
      this.droppedBytes += cost;
      // A flood that never stops is still reported, once a second (outside the bucket).
      if (this.last - this.lastReport >= 1000) this.reportDropped();
      return;
    }
    this.tokens -= cost;
    this.reportDropped();
    this.emit({ kind: 'line', text: line });
  }

  private reportDropped(): void {
    if (this.droppedLines === 0) return;
    this.lastReport = this.last;
    this.emit({ kind: 'dropped', lines: this.droppedLines, bytes: this.droppedBytes });
    this.droppedLines = 0;
    this.droppedBytes = 0;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}
