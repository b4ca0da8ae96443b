import { type CapturedLine, LineCapture, type LineCaptureOptions } from './line-capture.js';
import type { LogRecord, LogStore } from './log-store.js';
import { requestIdOf } from './request-id.js';

type Stream = LogRecord['stream'];

/** Whose output an `InstanceLog` carries. */
export interface InstanceIdentity {
  function: string;
  version: number;
  instance: string;
}

/**
 * A line that names no request, read this soon after the only request in flight ended, is
 * still that request's: a shim writes its lines before it answers, but the gateway may read
 * the answer from the socket before the line from the pipe.
 */
const LATE_LINE_MS = 100;

/**
 * One instance's stdout and stderr on their way into the `LogStore`: each stream through its
 * own `LineCapture` (line and rate caps), each line a record with the instance's function,
 * version and id and the request it belongs to: the one the line names (`requestIdOf`), else
 * the instance's only request in flight, else none. Lines past the rate cap are dropped and
 * a record says how many. Attached to a container by the pool once the container is the
 * function's (`ContainerOutput.attach`).
 */
export class InstanceLog {
  private readonly captures: Record<Stream, LineCapture>;
  private readonly inflight = new Set<string>();
  private lastEnded: { id: string; at: number } | undefined;
  private readonly generation: number;

  constructor(
    private readonly store: LogStore,
    private readonly who: InstanceIdentity,
    options: LineCaptureOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.generation = store.generation(who.function);
    this.captures = {
      stdout: new LineCapture((line) => this.record('stdout', line), { now, ...options }),
      stderr: new LineCapture((line) => this.record('stderr', line), { now, ...options }),
    };
  }

  write(stream: Stream, chunk: Buffer): void {
    this.captures[stream].write(chunk);
  }

  request(id: string, event: 'start' | 'end'): void {
    if (event === 'start') {
      this.inflight.add(id);
      this.lastEnded = undefined;
    } else if (this.inflight.delete(id)) {
      this.lastEnded = this.inflight.size === 0 ? { id, at: this.now() } : undefined;
    }
  }

  end(): void {
    this.captures.stdout.end();
    this.captures.stderr.end();
  }

  private record(stream: Stream, captured: CapturedLine): void {
    const at = this.now();
    const line =
      captured.kind === 'line'
        ? captured.text
        : `[kiln: ${captured.lines} ${stream} lines (${captured.bytes} bytes) dropped: over the log rate limit]`;
    const requestId = captured.kind === 'line' ? (requestIdOf(line) ?? this.current(at)) : undefined;
    this.store.append(
      {
        time: new Date(at).toISOString(),
        function: this.who.function,
        version: this.who.version,
        instance: this.who.instance,
        ...(requestId ? { requestId } : {}),
        stream,
        line,
      },
      this.generation,
    );
  }

  private current(at: number): string | undefined {
    if (this.inflight.size === 1) return this.inflight.values().next().value;
    if (this.inflight.size === 0 && this.lastEnded && at - this.lastEnded.at <= LATE_LINE_MS)
      return this.lastEnded.id;
    return undefined;
  }
}
