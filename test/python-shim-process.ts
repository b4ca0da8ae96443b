import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './harness.js';

export const PYTHON_SHIM = path.join(ROOT, 'runtimes/python/main.py');

/**
 * The host's python3 binary itself: Debian's /usr/bin/python3 (the image's python is
 * Debian's too) when there is one, else whatever `python3` on PATH runs, asked for its
 * real path so that a pyenv shim (a shell script, ~70 ms a start) is not in the way.
 */
export const PYTHON = existsSync('/usr/bin/python3')
  ? '/usr/bin/python3'
  : execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();

export interface ShimResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

export interface StartOptions {
  /** `socket`: KILN_SOCKET (default); `fd0`: an inherited listening socket on fd 0; `tcp`: PORT. */
  listen?: 'socket' | 'fd0' | 'tcp';
  env?: Record<string, string>;
}

/**
 * Binds a unix socket, moves it to fd 0 and execs the shim with KILN_LISTEN_FD=0: socket
 * activation as the gateway does it, so the shim itself never binds.
 */
const FD0_LAUNCHER = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(64)
os.dup2(s.fileno(), 0)
os.execv(sys.argv[2], [sys.argv[2], "-S", "-B", sys.argv[3]])
`;

/** The python shim as a real process on the host: the same program a container runs. */
export class PythonShim {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  private exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly address: { socketPath: string } | { port: number },
  ) {
    collectLines(child.stdout!, this.stdout);
    collectLines(child.stderr!, this.stderr);
    this.exited = new Promise((resolve) =>
      child.on('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  static async start(options: StartOptions = {}): Promise<PythonShim> {
    const dir = await mkdtemp(path.join(tmpdir(), 'kiln-pyshim-'));
    const socketPath = path.join(dir, 'shim.sock');
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', PYTHONUNBUFFERED: '1', ...options.env };
    let child: ChildProcess;
    let address: PythonShim['address'] = { socketPath };
    if (options.listen === 'fd0') {
      child = spawn(PYTHON, ['-S', '-B', '-c', FD0_LAUNCHER, socketPath, PYTHON, PYTHON_SHIM], {
        env: { ...env, KILN_LISTEN_FD: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } else if (options.listen === 'tcp') {
      const port = await freePort();
      address = { port };
      child = spawn(PYTHON, ['-S', '-B', PYTHON_SHIM], {
        env: { ...env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } else {
      child = spawn(PYTHON, ['-S', '-B', PYTHON_SHIM], {
        env: { ...env, KILN_SOCKET: socketPath },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    }
    const shim = new PythonShim(child, dir, address);
    for (let i = 0; i < 500; i++) {
      if (shim.exitCode !== undefined) break;
      try {
        (await shim.connect()).destroy();
        return shim;
      } catch {
        await sleep(10);
      }
    }
    await shim.stop();
    throw new Error(`the python shim did not start: ${shim.stderr.join('\n')}`);
  }

  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }

  connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const sock =
        'socketPath' in this.address
          ? net.connect(this.address.socketPath)
          : net.connect(this.address.port, '127.0.0.1');
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(sock);
      });
      sock.once('error', reject);
    });
  }

  /** One request on its own connection. */
  async request(
    method: string,
    target: string,
    options: { headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<ShimResponse> {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const lines = [`${method} ${target} HTTP/1.1`, 'host: kiln.test', 'connection: close'];
    for (const [k, v] of Object.entries(options.headers ?? {})) lines.push(`${k}: ${v}`);
    if (body) lines.push(`content-length: ${body.length}`);
    const sock = await this.connect();
    const reader = new ResponseReader(sock);
    sock.write(
      Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]),
    );
    const res = await reader.next(method === 'HEAD');
    sock.destroy();
    return res;
  }

  init(payload: Record<string, unknown>): Promise<ShimResponse> {
    return this.request('POST', '/init', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
  }

  /** Wait until a line of `stream` matches, returning it. */
  async line(
    stream: 'stdout' | 'stderr',
    match: (line: string) => boolean,
    limitMs = 10_000,
  ): Promise<string> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const found = this[stream].find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no such line on ${stream}: ${this[stream].join('\n')}`);
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    if (this.exitCode === undefined) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

function collectLines(stream: NodeJS.ReadableStream, into: string[]): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    into.push(...parts);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Reads HTTP/1.1 responses off a raw socket one by one, in order: what pipelining,
 * `100 Continue` and HEAD tests need to see, which an HTTP client library hides.
 */
export class ResponseReader {
  private buf = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(sock: net.Socket) {
    sock.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.wake?.();
    });
    const end = () => {
      this.ended = true;
      this.wake?.();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }

  private async more(): Promise<void> {
    if (this.ended) throw new Error(`the connection closed (unread: ${JSON.stringify(this.buf.toString())})`);
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.wake = undefined;
  }

  /** True once the server closed the connection and every byte was read. */
  async closed(): Promise<boolean> {
    while (!this.ended) await this.more().catch(() => undefined);
    return this.buf.length === 0;
  }

  /** The next response; `headOnly` for the answer to a HEAD (no body follows). */
  async next(headOnly = false): Promise<ShimResponse> {
    let end = this.buf.indexOf('\r\n\r\n');
    while (end < 0) {
      await this.more();
      end = this.buf.indexOf('\r\n\r\n');
    }
    const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const statusLine = /^HTTP\/1\.1 (\d{3}) /.exec(head[0]!);
    if (!statusLine) throw new Error(`not a status line: ${JSON.stringify(head[0])}`);
    const status = Number(statusLine[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const at = line.indexOf(':');
      const key = line.slice(0, at).trim().toLowerCase();
      const value = line.slice(at + 1).trim();
      headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
    }
    const length = headOnly || status < 200 ? 0 : Number(headers['content-length'] ?? 0);
    while (this.buf.length < end + 4 + length) await this.more();
    const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + length));
    this.buf = this.buf.subarray(end + 4 + length);
    return { status, headers, body, text: body.toString('utf8') };
  }
}
