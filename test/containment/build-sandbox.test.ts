import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuilderImage } from '../../src/build/base-images.js';
import type { SandboxJob, SandboxOutput } from '../../src/build/sandbox.js';
import { Kiln } from '../../src/kiln.js';
import { selectOciRuntime } from '../../src/runtime/oci/select.js';
import { OciBuildSandbox } from '../../src/runtime/oci-build-sandbox.js';
import { DEFAULT_UID_RANGE, UidLeases } from '../../src/runtime/uid-leases.js';
import { TEST_CACHE } from '../harness.js';

/**
 * The build sandbox itself, with hostile code in it: what a build step could do if a
 * bundle made esbuild or javac run its code. Each job is a node script run in the real
 * node builder image under the real OCI runtime.
 */
const runId = randomBytes(4).toString('hex');
const work = path.join(TEST_CACHE, 'runs', `sandbox-${runId}`);
const tmp = path.join(work, 'tmp');
const stateRoot = `/run/kiln/test-sandbox-${runId}`;
const secretDir = path.join(work, 'host-secret');
const secret = `host-secret-${randomBytes(8).toString('hex')}`;
let sandbox: OciBuildSandbox;
let uids: UidLeases;
let builder: BuilderImage;
let bundleDir: string;
let hostServer: net.Server;
let hostPort: number;

beforeAll(async () => {
  await mkdir(tmp, { recursive: true });
  // A root-only file on the host, as a gateway's own secrets are.
  await mkdir(secretDir, { mode: 0o700 });
  await writeFile(path.join(secretDir, 'token'), secret, { mode: 0o600 });
  process.env.KILN_TEST_GATEWAY_SECRET = secret;
  const { baseImages } = await Kiln.openStores({ dataDir: TEST_CACHE });
  builder = await baseImages.builder('node');
  uids = new UidLeases('/run/kiln/uids', stateRoot);
  sandbox = new OciBuildSandbox(await selectOciRuntime(stateRoot), uids, tmp, { concurrency: 2 });
  bundleDir = path.join(work, 'bundle');
  await mkdir(bundleDir);
  await writeFile(path.join(bundleDir, 'in.txt'), 'bundle content');
  hostServer = net.createServer((s) => s.end('host service'));
  await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
  hostPort = (hostServer.address() as net.AddressInfo).port;
});

afterAll(async () => {
  delete process.env.KILN_TEST_GATEWAY_SECRET;
  hostServer?.close();
  await rm(work, { recursive: true, force: true });
  await rm(stateRoot, { recursive: true, force: true });
});

function job(script: string, extra: Partial<SandboxJob> = {}): SandboxJob {
  return {
    what: 'test job',
    layers: builder.layers,
    args: ['/usr/local/bin/node', '-e', script],
    env: builder.env,
    cwd: '/src',
    bundleDir,
    ...extra,
  };
}

/** Run a script; its stdout's last line is its JSON answer. */
async function run(
  script: string,
  extra: Partial<SandboxJob> = {},
): Promise<{ answer: Record<string, unknown>; output: SandboxOutput }> {
  return sandbox.run(job(script, extra), async (output) => {
    const line = output.log.trim().split('\n').at(-1) ?? '';
    let answer: Record<string, unknown> = {};
    try {
      answer = JSON.parse(line) as Record<string, unknown>;
    } catch {
      answer = { unparsed: output.log };
    }
    return { answer, output };
  });
}

const probe = (body: string) => `
const fs = require('node:fs'); const os = require('node:os'); const net = require('node:net');
const tryIt = (f) => { try { return f(); } catch (e) { return 'E:' + e.code; } };
(async () => { const a = {}; ${body}; console.log(JSON.stringify(a)); })();`;

describe('a build job runs isolated', () => {
  it("as a uid leased from Kiln's range, one per build, with no capabilities, no new privileges and seccomp", async () => {
    const script = probe(`
      a.uid = process.getuid();
      a.status = fs.readFileSync('/proc/self/status', 'utf8');
      try { require('node:child_process').execFileSync('/usr/bin/unshare', ['-U', '-n', '/bin/true'], { stdio: 'pipe' }); a.unshare = 'ran'; }
      catch (e) { a.unshare = String(e.stderr); }
      await new Promise((r) => setTimeout(r, 300));
    `);
    const [{ answer }, { answer: other }] = await Promise.all([run(script), run(script)]);
    expect(answer.uid).toBeGreaterThanOrEqual(DEFAULT_UID_RANGE.first);
    expect(answer.uid).toBeLessThanOrEqual(DEFAULT_UID_RANGE.last);
    expect(other.uid).not.toBe(answer.uid);
    expect(String(answer.unshare)).toContain('Operation not permitted');
    const status = String(answer.status);
    expect(status).toMatch(/CapEff:\s+0+\n/);
    expect(status).toMatch(/CapBnd:\s+0+\n/);
    expect(status).toMatch(/NoNewPrivs:\s+1/);
    expect(status).toMatch(/Seccomp:\s+2/);
  });

  it('sees none of the host: not its files, not the gateway environment, not its loopback', async () => {
    const { answer } = await run(
      probe(`
        a.secretFile = tryIt(() => fs.readFileSync(${JSON.stringify(path.join(secretDir, 'token'))}, 'utf8'));
        a.env = JSON.stringify(process.env);
        a.environ = tryIt(() => fs.readFileSync('/proc/1/environ', 'utf8'));
        a.interfaces = Object.keys(os.networkInterfaces());
        a.hostPort = await new Promise((r) => { const s = net.connect(${hostPort}, '127.0.0.1');
          s.on('data', (d) => r('read:' + d)); s.on('error', (e) => r('E:' + e.code)); });
      `),
    );
    expect(answer.secretFile).toBe('E:ENOENT');
    expect(String(answer.env)).not.toContain(secret);
    expect(String(answer.environ)).not.toContain(secret);
    expect(answer.interfaces).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/^(eth|en|wl|docker|br)/)]),
    );
    expect(answer.hostPort).toBe('E:ECONNREFUSED');
  });

  it('can write only its output dir: the root, the bundle and the job dir are read-only', async () => {
    const jobDir = path.join(work, 'jobdir');
    await mkdir(jobDir, { recursive: true });
    const { answer } = await run(
      probe(`
        a.root = tryIt(() => fs.writeFileSync('/evil', 'x'));
        a.bundle = tryIt(() => fs.writeFileSync('/src/in.txt', 'changed'));
        a.job = tryIt(() => fs.writeFileSync('/kiln/x', 'x'));
        a.read = fs.readFileSync('/src/in.txt', 'utf8');
        a.out = tryIt(() => { fs.writeFileSync('/out/ok', 'fine'); return 'written'; });
      `),
      { jobDir },
    );
    expect(answer).toMatchObject({
      root: 'E:EROFS',
      bundle: 'E:EROFS',
      job: 'E:EROFS',
      read: 'bundle content',
      out: 'written',
    });
    expect(await readFile(path.join(bundleDir, 'in.txt'), 'utf8')).toBe('bundle content');
  });
});

describe('a build job is bounded', () => {
  it('its output by the tmpfs caps: bytes and files', async () => {
    const { answer } = await run(
      probe(`
        a.big = tryIt(() => { fs.writeFileSync('/out/big', Buffer.alloc(4 * 1024 * 1024)); return 'written'; });
        a.many = tryIt(() => { for (let i = 0; i < 500; i++) fs.writeFileSync('/out/f' + i, ''); return 'written'; });
      `),
      { limits: { outputBytes: 1024 * 1024, outputFiles: 100 } },
    );
    expect(answer.big).toBe('E:ENOSPC');
    expect(answer.many).toBe('E:ENOSPC');
  });

  it('its time by the deadline: 400 build_timeout', async () => {
    await expect(run('for (;;) {}', { limits: { deadlineMs: 1500 } })).rejects.toMatchObject({
      code: 'build_timeout',
      status: 400,
    });
  });

  it('its memory by the cgroup: 400 build_out_of_memory', async () => {
    const grow = 'const keep = []; for (;;) keep.push(Buffer.alloc(16 * 1024 * 1024, 1));';
    await expect(run(grow, { limits: { memoryBytes: 96 * 1024 * 1024 } })).rejects.toMatchObject({
      code: 'build_out_of_memory',
      status: 400,
    });
  });

  it('its processes by the pids limit', async () => {
    const { answer } = await run(
      probe(`
        const { spawn } = require('node:child_process');
        const kids = []; let failed = 'none';
        for (let i = 0; i < 64; i++) { try { const k = spawn('/bin/sleep', ['5']); k.on('error', (e) => { failed = 'E:' + e.code; }); kids.push(k); } catch (e) { failed = 'E:' + e.code; break; } }
        await new Promise((r) => setTimeout(r, 300));
        a.failed = failed; kids.forEach((k) => k.kill());
      `),
      { limits: { pids: 32 } },
    );
    expect(answer.failed).toBe('E:EAGAIN');
  });
});

describe('its output is read back checked', () => {
  const copy = (script: string) =>
    sandbox.run(job(script), (output) =>
      output.copyTree('fn', path.join(work, `copy-${randomBytes(3).toString('hex')}`)),
    );

  it('refuses a symlink out of the output', async () => {
    await expect(
      copy("require('fs').mkdirSync('/out/fn'); require('fs').symlinkSync('/', '/out/fn/root');"),
    ).rejects.toMatchObject({
      code: 'unsafe_link',
    });
    await expect(
      copy(
        "const fs = require('fs'); fs.mkdirSync('/out/fn/d', { recursive: true }); fs.symlinkSync('.', '/out/fn/d/self'); fs.symlinkSync('d/self/../..', '/out/fn/up');",
      ),
    ).rejects.toMatchObject({ code: 'unsafe_link' });
  });

  it('refuses an output dir that is itself a link, and a fifo in it', async () => {
    await expect(copy("require('fs').symlinkSync('/', '/out/fn');")).rejects.toMatchObject({
      code: 'build_failed',
    });
    await expect(
      copy(
        "require('fs').mkdirSync('/out/fn'); require('child_process').execFileSync('/usr/bin/mkfifo', ['/out/fn/pipe']);",
      ),
    ).rejects.toMatchObject({ code: 'unsafe_entry' });
  });

  it('copies files with safe modes, owned by Kiln', async () => {
    const dest = path.join(work, 'copy-good');
    await sandbox.run(
      job(
        "const fs = require('fs'); fs.mkdirSync('/out/fn/sub', { recursive: true }); fs.writeFileSync('/out/fn/sub/a.txt', 'A', { mode: 0o4777 });",
      ),
      (output) => output.copyTree('fn', dest),
    );
    expect(await readFile(path.join(dest, 'sub/a.txt'), 'utf8')).toBe('A');
    const { stat } = await import('node:fs/promises');
    const st = await stat(path.join(dest, 'sub/a.txt'));
    expect(st.mode & 0o7777).toBe(0o755);
    expect(st.uid).toBe(0);
  });
});

it('leaves nothing behind: no container, no mount, no work dir, no uid lease', async () => {
  const driver = await selectOciRuntime(stateRoot);
  expect(await driver.list()).toEqual([]);
  expect(await uids.releaseAll()).toBe(0);
  expect(await readdir(tmp)).toEqual([]);
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  expect(mounts).not.toContain(tmp);
  await chmod(secretDir, 0o700);
});
