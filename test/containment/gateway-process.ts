import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { packDir } from '../../src/build/pack-dir.js';
import { DataDir } from '../../src/data-dir.js';
import { ROOT, TEST_CACHE } from '../harness.js';

const CLI = path.join(ROOT, 'dist/cli/main.js');

/**
 * A real gateway as its own process (`kiln serve`), so that tests can give it secrets in
 * its environment, take tools off its PATH, and kill it with SIGKILL. Its data dir shares
 * the test cache's images and snapshots (symlinked, as startTestGateway does).
 */
export class GatewayProcess {
  url = '';
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly dataDir: string,
    private env: Record<string, string>,
    /** More `kiln serve` arguments (`--host`, `--insecure-no-auth`, `--grace`). */
    private readonly args: string[],
  ) {}

  static async start(env: Record<string, string> = {}, args: string[] = []): Promise<GatewayProcess> {
    const dataDir = path.join(TEST_CACHE, 'runs', `proc-${randomBytes(4).toString('hex')}`);
    await new DataDir(dataDir).shareImagesOf(new DataDir(TEST_CACHE));
    const gateway = new GatewayProcess(dataDir, env, args);
    await gateway.launch();
    return gateway;
  }

  /** The containers the OCI runtime holds in this gateway's state root (none if it has none). */
  async containers(): Promise<string[]> {
    const { stdout } = await promisify(execFile)('crun', ['--root', this.stateRoot, 'list', '-q']).catch(
      () => ({
        stdout: '',
      }),
    );
    return stdout.split('\n').filter(Boolean);
  }

  /** A second gateway on another one's data dir (what `kiln serve` run twice does). */
  static async startOn(dataDir: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
    const gateway = new GatewayProcess(dataDir, env, []);
    await gateway.launch();
    return gateway;
  }

  /** The OCI runtime's state root for this data dir (`Kiln.openStores`' rule). */
  get stateRoot(): string {
    return path.join('/run/kiln', createHash('sha256').update(this.dataDir).digest('hex').slice(0, 12));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the gateway process has not exited. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get output(): string {
    return this.log;
  }

  async launch(): Promise<void> {
    this.log = '';
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...this.args],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          KILN_DATA: this.dataDir,
          KILN_STEM_CELLS: '0',
          ...this.env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.child = child;
    this.url = await new Promise<string>((resolve, reject) => {
      child.stderr?.on('data', (d: Buffer) => {
        this.log += d.toString();
        const m = /listening on (http:\/\/[\d.:[\]]+)/.exec(this.log);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`gateway exited (${code}): ${this.log}`)));
    });
  }

  /** SIGKILL: no cleanup of any kind runs. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM, then wait for the exit; resolves to the exit code (undefined if it was not running). */
  async stop(): Promise<number | null | undefined> {
    const child = this.child;
    if (!child || child.exitCode !== null) return undefined;
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    return exited;
  }

  /** Stops the gateway (SIGTERM) and starts it again on the same data dir with `env` added. */
  async restartWith(env: Record<string, string>): Promise<void> {
    await this.stop();
    this.env = { ...this.env, ...env };
    await this.launch();
  }

  /** Resolves once the gateway's stderr has a line matching `pattern`. */
  async logged(pattern: RegExp): Promise<void> {
    const child = this.child;
    while (!pattern.test(this.log)) {
      if (!child || child.exitCode !== null)
        throw new Error(`gateway exited before logging ${pattern}: ${this.log}`);
      await new Promise((r) => child.stderr?.once('data', r));
    }
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** The control-plane token: `KILN_TOKEN`, else the one the gateway made in its data dir. */
  get token(): string | undefined {
    if (this.env.KILN_TOKEN) return this.env.KILN_TOKEN;
    try {
      return readFileSync(new DataDir(this.dataDir).controlToken, 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const token = this.token;
    return token ? { authorization: `Bearer ${token}`, ...extra } : extra;
  }

  async deploy(
    bundle: Buffer | string,
    query: Record<string, string>,
  ): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
    const body = typeof bundle === 'string' ? await packDir(bundle) : bundle;
    const res = await fetch(`${this.url}/functions?${new URLSearchParams(query)}`, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/gzip' }),
      body: body as unknown as BodyInit,
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // kept as text
    }
    return { status: res.status, body: parsed, text };
  }

  /** Every file of a layer's snapshot, with its content (for "is the secret in there?"). */
  async layerContent(layerDigest: string): Promise<string> {
    const dir = path.join(this.dataDir, 'snapshots', layerDigest.replace('sha256:', ''));
    let all = '';
    for (const rel of await readdir(dir, { recursive: true })) {
      all += `\n== ${rel}\n`;
      all += await readFile(path.join(dir, String(rel)), 'latin1').catch(() => '');
    }
    return all;
  }
}

/**
 * A PATH of symlinks to every program on this one but those `drop` matches: a host
 * without a JDK, for a gateway that must not need one.
 */
export async function pathWithout(dir: string, drop: RegExp): Promise<string> {
  await mkdir(dir, { recursive: true });
  const seen = new Set<string>();
  for (const bin of (process.env.PATH ?? '').split(':')) {
    for (const name of await readdir(bin).catch(() => [] as string[])) {
      if (seen.has(name) || drop.test(name)) continue;
      seen.add(name);
      await symlink(path.join(bin, name), path.join(dir, name)).catch(() => undefined);
    }
  }
  return dir;
}

/** The mount points under `dir` in this process's mount namespace. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
}

/** Every cgroup dir of these container ids, in every hierarchy of the host. */
export async function cgroupsOf(ids: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await readdir('/sys/fs/cgroup')) {
    for (const id of ids) {
      const dir = path.join('/sys/fs/cgroup', hierarchy, 'kiln', id);
      if (existsSync(dir)) found.push(dir);
    }
  }
  return found;
}
