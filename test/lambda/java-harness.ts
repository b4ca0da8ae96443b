import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { link, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ROOT } from '../harness.js';

const execFileP = promisify(execFile);

/** The JVM flags of the image's entrypoint (runtimes/java/recipe.json) that matter to behaviour. */
const JAVA_FLAGS = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '--add-opens',
  'java.base/java.util=ALL-UNNAMED',
];

async function javaFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.java')) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

export interface JavaBuild {
  dir: string;
  /** The shim jar, built from runtimes/java/src with the host's javac as the image build does. */
  jar: string;
  /** The compiled fixtures: a code dir as /fn/classes would hold them. */
  codeDir: string;
}

/** Compiles the shim and the test's Java fixtures against it, in a fresh temp dir. */
export async function buildJava(fixtures: string): Promise<JavaBuild> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kiln-java-shim-'));
  const classes = path.join(dir, 'shim-classes');
  const jar = path.join(dir, 'kiln-shim.jar');
  const codeDir = path.join(dir, 'fn');
  await mkdir(path.join(codeDir, 'classes'), { recursive: true });
  const shimSources = await javaFiles(path.join(ROOT, 'runtimes/java/src'));
  // The flags of the image build (src/build/shim-layer.ts).
  await execFileP(
    'javac',
    ['--release', '17', '-nowarn', '-XDstringConcat=inline', '-d', classes, ...shimSources],
    {
      maxBuffer: 16 << 20,
    },
  );
  await execFileP('jar', ['cf', jar, '-C', classes, '.']);
  await execFileP(
    'javac',
    [
      '--release',
      '17',
      '-nowarn',
      '-cp',
      jar,
      '-d',
      path.join(codeDir, 'classes'),
      ...(await javaFiles(fixtures)),
    ],
    { maxBuffer: 16 << 20 },
  );
  return { dir, jar, codeDir };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** A shim process on a unix socket (or on fd 0), with its stdout and stderr kept line by line. */
export class JavaShim {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    readonly proc: ChildProcess,
    readonly socket: string,
  ) {
    for (const [stream, lines] of [
      [proc.stdout, this.stdout],
      [proc.stderr, this.stderr],
    ] as const) {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        lines.push(...parts);
      });
    }
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  /**
   * Starts `java ... dev.kiln.shim.Main`. `listen: 'socket'` gives it KILN_SOCKET; `'fd0'`
   * creates the listening socket here and passes it as the child's stdin with KILN_LISTEN_FD=0,
   * as the gateway does.
   */
  static async start(
    build: JavaBuild,
    options: { env?: Record<string, string>; listen?: 'socket' | 'fd0' } = {},
  ): Promise<JavaShim> {
    const dir = await mkdtemp(path.join(tmpdir(), 'kiln-java-sock-'));
    const socket = path.join(dir, 'shim.sock');
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env };
    const args = [...JAVA_FLAGS, '-cp', build.jar, 'dev.kiln.shim.Main'];
    let proc: ChildProcess;
    if (options.listen === 'fd0') {
      const server = net.createServer();
      const bound = path.join(dir, 'bound.sock');
      await new Promise<void>((resolve) => server.listen(bound, resolve));
      // server.close() unlinks the path it bound; a hard link to the socket's inode stays
      // connectable, so this process can stop listening while the child keeps the socket.
      await link(bound, socket);
      // node:net has no public accessor for a server's fd; its handle's is what gets passed.
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      proc = spawn('java', args, { env: { ...env, KILN_LISTEN_FD: '0' }, stdio: [fd, 'pipe', 'pipe'] });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    } else {
      proc = spawn('java', args, { env: { ...env, KILN_SOCKET: socket }, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    const shim = new JavaShim(proc, socket);
    await shim.waitListening();
    return shim;
  }

  private async waitListening(): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if (this.proc.exitCode !== null) {
        throw new Error(`the shim exited with ${this.proc.exitCode}: ${this.stderr.join('\n')}`);
      }
      const ok = await new Promise<boolean>((resolve) => {
        const c = net.connect(this.socket, () => {
          c.end();
          resolve(true);
        });
        c.on('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(25);
    }
    throw new Error(`the shim did not listen on ${this.socket}: ${this.stderr.join('\n')}`);
  }

  /** POST /init with the payload of SHIM-PROTOCOL §2. */
  init(
    build: JavaBuild,
    handler: string,
    extra: { eventFormat?: '1.0' | '2.0'; env?: Record<string, string>; concurrency?: number } = {},
  ): Promise<RawResponse> {
    const payload = {
      handler,
      source: 'fixture',
      env: extra.env ?? {},
      codeDir: build.codeDir,
      function: { name: 'conformance', version: 7, memoryMb: 256 },
      eventFormat: extra.eventFormat ?? '2.0',
      concurrency: extra.concurrency ?? 1,
    };
    return this.request('POST', '/init', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
  }

  /** One request on its own connection, through node:http. */
  request(
    method: string,
    target: string,
    options: { headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socket,
          method,
          path: target,
          headers: { host: 'fn.example.com', ...options.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers as Record<string, string | string[]>,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  /** A raw invoke: the body is the event (SHIM-PROTOCOL §3). */
  invoke(event: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
    return this.request('POST', '/2015-03-31/functions/conformance/invocations', {
      headers: { 'x-kiln-invoke': 'raw', 'content-type': 'application/json', ...headers },
      body: event,
    });
  }

  /** A raw connection for the HTTP edge cases node:http will not produce. */
  connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const c = net.connect(this.socket, () => resolve(c));
      c.on('error', reject);
    });
  }

  /** Waits until a line matching `pattern` appears on the stream. */
  async waitForLine(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const hit = this[stream].find((l) => pattern.test(l));
      if (hit !== undefined) return hit;
      await sleep(25);
    }
    throw new Error(`no ${stream} line matched ${pattern}: ${this[stream].join('\n')}`);
  }

  async stop(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
    await rm(path.dirname(this.socket), { recursive: true, force: true });
  }
}

/** Reads from a raw socket until `done(bytes so far)` says the answer is complete. */
export function readUntil(socket: net.Socket, done: (data: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (done(data)) {
        cleanup();
        resolve(data);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(data);
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', reject);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', reject);
  });
}

export interface WireResponse {
  status: number;
  head: string;
  body: string;
}

/**
 * Splits a stream of HTTP/1.1 responses (content-length framed) into status, head and body;
 * `methods` are the requests' methods in order (a HEAD answer has no body), 1xx answers included.
 */
export function parseResponses(data: string, methods: string[] = []): WireResponse[] {
  const out: WireResponse[] = [];
  let rest = data;
  let request = 0;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end);
    const status = Number(head.split(' ')[1]);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const bodyless = status < 200 || status === 204 || status === 304 || methods[request] === 'HEAD';
    if (status >= 200) request++;
    const bodyLength = bodyless ? 0 : length;
    out.push({ status, head, body: rest.slice(end + 4, end + 4 + bodyLength) });
    rest = rest.slice(end + 4 + bodyLength);
  }
  return out;
}
