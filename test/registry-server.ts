import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findOnPath } from '../src/find-on-path.js';

/** A port free on 127.0.0.1 right now (the registry binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface TestRegistry {
  /** host:port of the registry itself. */
  host: string;
  /** Where it keeps blobs: `<storage>/docker/registry/v2/blobs/sha256/<2>/<hex>/data`. */
  storage: string;
  stop(): Promise<void>;
}

/**
 * Debian's `docker-registry` (the CNCF distribution registry 2.8) on a free loopback port,
 * with a config, storage and optional htpasswd file of its own, stopped by `stop()`.
 */
export async function startRegistry(
  options: { user?: string; password?: string } = {},
): Promise<TestRegistry> {
  const bin = await findOnPath('docker-registry');
  if (!bin) throw new Error('docker-registry is not installed (scripts/setup-host.sh installs it)');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-registry-'));
  const port = await freePort();
  const auth = options.user ? `auth:\n  htpasswd:\n    realm: kiln-test\n    path: ${dir}/htpasswd\n` : '';
  if (options.user) {
    // bcrypt, as the registry requires (htpasswd -B, from apache2-utils).
    const line = execFileSync('htpasswd', ['-Bbn', options.user, options.password ?? ''], {
      encoding: 'utf8',
    });
    await writeFile(path.join(dir, 'htpasswd'), `${line.trim()}\n`);
  }
  await writeFile(
    path.join(dir, 'config.yml'),
    `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${dir}/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${auth}`,
  );
  const child: ChildProcess = spawn(bin, ['serve', path.join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (d) => {
    log += String(d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready once it answers /v2/ (200, or 401 with auth): retry until then, or until it exits.
  let ready = false;
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    const status = await new Promise<number>((resolve) => {
      http
        .get(`http://127.0.0.1:${port}/v2/`, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', () => resolve(0));
    });
    if (status === 200 || status === 401) {
      ready = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`docker-registry did not start: ${log.slice(-2000)}`);
  }
  return {
    host: `127.0.0.1:${port}`,
    storage: path.join(dir, 'storage'),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface CountingProxy {
  host: string;
  /** `METHOD path` of every request that went through, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A plain HTTP proxy in front of a registry that records each request, so a test can count
 * uploads. The Host header is passed as it came, so the registry's Location URLs point
 * back at the proxy.
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const [host, port] = target.split(':') as [string, string];
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const upstream = http.request(
      { host, port: Number(port), method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    host: `127.0.0.1:${address.port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
