import { KilnError } from '../errors.js';
import { IsoTime } from './iso-time.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The fields a gateway log line may carry: named ones only, so no header or token is ever written. */
export interface LogFields {
  requestId?: string;
  function?: string;
  version?: number;
  status?: number;
  durationMs?: number;
  start?: string;
  instance?: string;
  method?: string;
  code?: string;
  error?: string;
}

/** `KILN_LOG_LEVEL`: debug, info (default), warn, error. */
export function logLevelFromEnv(raw = process.env.KILN_LOG_LEVEL): LogLevel {
  if (raw === undefined || raw === '') return 'info';
  if (raw in ORDER) return raw as LogLevel;
  throw new KilnError(
    'invalid_config',
    `KILN_LOG_LEVEL must be one of ${Object.keys(ORDER).join(', ')}, got "${raw}"`,
    500,
  );
}

/**
 * The gateway's own log: one JSON object per line (`time`, `level`, `msg`, then the
 * fields), for a log shipper to read without a parser of ours. Fields are a fixed set
 * (`LogFields`): a caller cannot pass a request's headers or Kiln's token by accident.
 */
export class GatewayLog {
  private readonly threshold: number;
  private readonly clock = new IsoTime();

  constructor(
    level: LogLevel = 'info',
    private readonly write: (line: string) => void = stderrLines.add,
  ) {
    this.threshold = ORDER[level];
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= this.threshold;
  }

  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (ORDER[level] < this.threshold) return;
    const record: Record<string, unknown> = { time: this.clock.format(), level, msg };
    for (const key of FIELD_NAMES) if (fields[key] !== undefined) record[key] = fields[key];
    this.write(`${JSON.stringify(record)}\n`);
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }
}

/**
 * How long a line may wait for the lines after it. Each write to stderr is a syscall that
 * also wakes the process reading the pipe (journald, a log shipper): once per event-loop turn
 * that was one write per request on a sequential warm path, 15 µs of the gateway's CPU per
 * request in a CPU profile and a third process to wake beside the client and the shim
 * (issue 9). A log shipper reads in batches anyway; 50 ms is below what a person watching
 * the log notices.
 */
const FLUSH_MS = 50;
/** Past this many pending characters the lines go out at once: the wait never holds much memory. */
const MAX_PENDING = 64 * 1024;

/**
 * Lines for stderr, written together: at most `flushMs` after the first of them, at once past
 * `MAX_PENDING`, and whatever is pending when the process exits. On Linux a write to a pipe
 * or file from `process.stderr` is a synchronous syscall (Node docs, "A note on process I/O"),
 * and the access log's one write per invoke was 13% of the gateway's busy CPU at 64
 * connections (a CPU profile of the throughput bench, issue 9).
 */
export class LineBatch {
  private pending: string[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly flushMs = FLUSH_MS,
  ) {
    process.once('exit', () => this.flush());
  }

  readonly add = (line: string): void => {
    this.pending.push(line);
    this.size += line.length;
    if (this.size >= MAX_PENDING) {
      this.flush();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.flushMs);
    // The exit handler writes what is pending: the wait never keeps the process alive.
    this.timer.unref();
  };

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.size = 0;
    this.out.write(text);
  }
}

const stderrLines = new LineBatch(process.stderr);

const FIELD_NAMES: (keyof LogFields)[] = [
  'requestId',
  'function',
  'version',
  'status',
  'durationMs',
  'start',
  'instance',
  'method',
  'code',
  'error',
];
