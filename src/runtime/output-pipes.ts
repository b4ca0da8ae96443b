import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, unlinkSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** One stream's pipe: the container writes into `writeFd`, the gateway reads `reader`. */
export interface OutputPipe {
  writeFd: number;
  reader: net.Socket;
}

/**
 * Real pipes (FIFOs) for a container's stdout and stderr. Node's `stdio: 'pipe'` gives a
 * child a unix socketpair, and `open("/dev/stdout")` (a path to /proc/self/fd/1) fails with
 * ENXIO on a socket: logging set up to write to /dev/stdout would break in a function. A
 * pipe opens like a file, as under Docker (containerd's FIFOs) and as the old log file did.
 *
 * Node cannot call pipe(2) or mkfifo(3), and running `mkfifo` costs ~8 ms here (measured):
 * FIFOs are made ahead, many per `mkfifo`, into a stock that a start takes from without
 * waiting. A start opens both ends (the read end non-blocking, so that opening the write
 * end does not block), then unlinks the file: the pipe lives on as its fds only.
 */
export class OutputPipes {
  private stock: string[] = [];
  private next = 0;
  /** Two runtimes may share a dir (tests run one per driver): names of their own. */
  private readonly prefix = randomBytes(4).toString('hex');
  private refilling: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly batch = 32,
  ) {}

  /** Remove FIFOs a crashed gateway left, and make the first batch (off the first start's path). */
  async reset(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    this.stock = [];
    void this.refill().catch(() => undefined);
  }

  /**
   * Make no more FIFOs and remove the stock: after this the dir is left as the gateway's
   * close leaves it (a refill still running would make files while a caller removes the
   * data dir: ENOTEMPTY in a full test run).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.refilling?.catch(() => undefined);
    await Promise.all(this.stock.splice(0).map((fifo) => rm(fifo, { force: true })));
  }

  /** A pipe for one stream; refills the stock in the background when it runs low. */
  async take(): Promise<OutputPipe> {
    if (this.stock.length === 0) await this.refill();
    const fifo = this.stock.pop();
    if (this.stock.length < this.batch / 2) void this.refill().catch(() => undefined);
    if (!fifo) return this.take();
    const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    let writeFd: number;
    try {
      writeFd = openSync(fifo, constants.O_WRONLY);
    } catch (err) {
      closeSync(readFd);
      throw err;
    } finally {
      unlinkSync(fifo);
    }
    // libuv reads a FIFO like any pipe (uv_guess_handle says UV_NAMED_PIPE).
    return { writeFd, reader: new net.Socket({ fd: readFd, readable: true, writable: false }) };
  }

  private refill(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the container runtime is closed'));
    this.refilling ??= (async () => {
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        const names = Array.from({ length: this.batch }, () =>
          path.join(this.dir, `${this.prefix}-${this.next++}`),
        );
        await execFileP('mkfifo', ['-m', '600', ...names]);
        this.stock.push(...names);
      } finally {
        this.refilling = undefined;
      }
    })();
    return this.refilling;
  }
}
