// The Node shim as a real process for tests: started on the host's node with an empty
// environment, on a unix socket in a temp dir; its stdout and stderr kept line by line.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { ROOT } from './harness.js';

export const SHIM_MAIN = path.join(ROOT, 'runtimes/node/main.mjs');

export interface ShimReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export class ShimProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly client: Client;
  private readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly socketPath: string,
  ) {
    this.client = new Client('http://shim', { socketPath, pipelining: 0 });
    collectLines(child.stdout, this.stdout);
    collectLines(child.stderr, this.stderr);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Start the shim on `socketPath`; resolves once it answers. */
  static async start(socketPath: string, env: Record<string, string> = {}): Promise<ShimProcess> {
    const child = spawn(process.execPath, [SHIM_MAIN], {
      env: { PATH: process.env.PATH, KILN_SOCKET: socketPath, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const shim = new ShimProcess(child, socketPath);
    await shim.ready();
    return shim;
  }

  async ready(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      if (this.child.exitCode !== null) throw new Error(`shim exited: ${this.stderr.join('\n')}`);
      try {
        await this.call('GET', '/', undefined, { 'x-kiln-health': '1' });
        return;
      } catch {
        await sleep(10);
      }
    }
    throw new Error('shim did not start');
  }

  async call(
    method: string,
    p: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<ShimReply> {
    const res = await this.client.request({ method: method as 'GET', path: p, body, headers });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  async init(payload: Record<string, unknown>): Promise<ShimReply> {
    return this.call('POST', '/init', JSON.stringify(payload), { 'content-type': 'application/json' });
  }

  /** Wait until some stdout/stderr line matches (the shim writes a line per console call). */
  async line(stream: 'stdout' | 'stderr', match: RegExp): Promise<string> {
    for (let i = 0; i < 500; i++) {
      const found = this[stream].find((l) => match.test(l));
      if (found !== undefined) return found;
      await sleep(10);
    }
    throw new Error(`no ${stream} line matched ${match}: ${this[stream].join('\n')}`);
  }

  async stop(): Promise<void> {
    await this.client.close().catch(() => undefined);
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

function collectLines(stream: NodeJS.ReadableStream | null, into: string[]): void {
  let rest = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    into.push(...parts);
  });
}

/**
 * A raw connection: write bytes, read what comes back. For the wire-level cases a client
 * library would hide (pipelining, Expect, half-sent and malformed requests).
 */
export class RawConnection {
  text = '';
  closed = false;
  private readonly socket: net.Socket;
  private waiters: (() => void)[] = [];

  constructor(socketPath: string) {
    this.socket = net.connect(socketPath);
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      this.text += chunk;
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolve once what was read satisfies `check` (or the connection closed). */
  async until(check: (text: string) => boolean): Promise<string> {
    while (!check(this.text) && !this.closed)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.text;
  }

  async untilClosed(): Promise<string> {
    return this.until(() => false);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
