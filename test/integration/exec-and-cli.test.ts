import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, ROOT, startTestGateway, type TestGateway } from '../harness.js';
import { KILN_CLI, runKiln } from '../kiln-cli.js';

/**
 * `kiln exec` and the CLI's feel (issue 12) through a real gateway and containers: a command
 * runs inside a running instance (also a frozen one) as its uid with its output and exit code
 * back; `kiln --version`; `--json` listings parse; a wrong method is a 405 with `Allow`.
 */
let t: TestGateway;
let work: string;

function kiln(...args: string[]) {
  return runKiln(t.url, args);
}

interface Ps {
  instances: { id: string; function: string; state: string }[];
}

beforeAll(async () => {
  t = await startTestGateway();
  work = t.srcDir;
  const dir = path.join(work, 'sh');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'index.mjs'), `export default { fetch: () => new Response('up') };\n`);
  const deployed = await deployDir(t.url, dir, { name: 'sh', runtime: 'node' });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

describe('kiln exec', () => {
  it('runs cat /etc/os-release in an instance, frozen or not, as its uid; exit codes come back', async () => {
    expect(await (await fetch(`${t.url}/fn/sh/`)).text()).toBe('up');
    const ps = await kiln('ps', '--json');
    expect(ps.code).toBe(0);
    const [instance] = (JSON.parse(ps.stdout) as Ps).instances.filter((i) => i.function === 'sh');
    if (!instance) throw new Error('no instance of sh');
    // Idle instances are frozen after KILN_FREEZE_AFTER_MS (50 ms): exec thaws it first.
    await expect
      .poll(
        async () =>
          (JSON.parse((await kiln('ps', '--json')).stdout) as Ps).instances.find((i) => i.id === instance.id)
            ?.state,
        {
          timeout: 10_000,
        },
      )
      .toBe('frozen');

    const os = await kiln('exec', instance.id, '--', 'cat', '/etc/os-release');
    expect(os.code).toBe(0);
    expect(os.stdout).toContain('Debian GNU/Linux');
    const uid = await kiln('exec', instance.id, '--', 'id', '-u');
    expect(Number(uid.stdout.trim())).toBeGreaterThan(0);
    const failed = await kiln('exec', instance.id, '--', 'sh', '-c', 'echo oops >&2; exit 3');
    expect(failed.code).toBe(3);
    expect(failed.stderr).toBe('oops\n');
    const json = await kiln('exec', '--json', instance.id, '--', 'sh', '-c', 'echo hi');
    expect(JSON.parse(json.stdout)).toEqual({ exitCode: 0, signal: null, stdout: 'hi\n', stderr: '' });
    // The instance serves on after the exec.
    expect(await (await fetch(`${t.url}/fn/sh/`)).text()).toBe('up');

    const missing = await kiln('exec', 'knope', '--', 'true');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('[instance_not_found]');
    const bad = await fetch(`${t.url}/instances/${instance.id}/exec`, {
      method: 'POST',
      body: '{"cmd":"ls"}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_command');
  });

  it('streams output as the command writes it, and exits with its code', async () => {
    expect(await (await fetch(`${t.url}/fn/sh/`)).text()).toBe('up');
    const [instance] = (JSON.parse((await kiln('ps', '--json')).stdout) as Ps).instances.filter(
      (i) => i.function === 'sh',
    );
    if (!instance) throw new Error('no instance of sh');
    // It prints, then waits for a file only the test makes, then prints again: the first
    // lines can only reach the CLI before the command ends if they are streamed.
    const script =
      'echo first; echo warn >&2; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second; exit 3';
    const child = spawn(process.execPath, [KILN_CLI, 'exec', instance.id, '--', 'sh', '-c', script], {
      env: { PATH: process.env.PATH, KILN_URL: t.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await expect.poll(() => stdout, { timeout: 20_000 }).toBe('first\n');
      await expect.poll(() => stderr, { timeout: 20_000 }).toBe('warn\n');
      expect(child.exitCode).toBeNull();
      const go = await fetch(`${t.url}/instances/${instance.id}/exec`, {
        method: 'POST',
        body: JSON.stringify({ cmd: ['touch', '/tmp/go'] }),
      });
      expect(((await go.json()) as { exitCode: number }).exitCode).toBe(0);
      expect(await exited).toBe(3);
      expect(stdout).toBe('first\nsecond\n');
    } finally {
      child.kill();
    }
    // The API's stream: NDJSON lines, the exit last; an unknown instance is a plain 404 first.
    const res = await fetch(`${t.url}/instances/${instance.id}/exec?stream=1`, {
      method: 'POST',
      body: JSON.stringify({ cmd: ['sh', '-c', 'echo a; echo b >&2'] }),
    });
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const events = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.at(-1)).toEqual({ exitCode: 0, signal: null });
    expect(
      events
        .filter((e) => e.stdout)
        .map((e) => e.stdout)
        .join(''),
    ).toBe('a\n');
    expect(
      events
        .filter((e) => e.stderr)
        .map((e) => e.stderr)
        .join(''),
    ).toBe('b\n');
    const missing = await fetch(`${t.url}/instances/knope/exec?stream=1`, {
      method: 'POST',
      body: JSON.stringify({ cmd: ['true'] }),
    });
    expect(missing.status).toBe(404);
  }, 60_000);
});

describe('the CLI and the API feel', () => {
  it('kiln --version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v']) {
      const out = await kiln(flag);
      expect(out.code).toBe(0);
      expect(out.stdout.trim()).toBe(version);
    }
  });

  it('--json listings parse', async () => {
    for (const args of [
      ['ls', '--json'],
      ['ps', '--json'],
      ['versions', 'sh', '--json'],
      ['secret', 'ls', '--json'],
    ]) {
      const out = await kiln(...args);
      expect(out.code, `${args.join(' ')}: ${out.stderr}`).toBe(0);
      expect(() => JSON.parse(out.stdout), args.join(' ')).not.toThrow();
    }
  });

  it('kiln stats --no-stream: CPU % (a busy loop shows), memory and requests of each instance', async () => {
    const [instance] = (await t.kiln.pool.list()).filter((i) => i.function === 'sh');
    if (!instance) throw new Error('no instance of sh');
    // A CPU loop inside the instance (kiln exec) for the whole second kiln stats samples over.
    const cpuNow = async () => (await t.kiln.pool.list()).find((i) => i.id === instance.id)?.cpuUsageUs ?? 0;
    const idleCpu = await cpuNow();
    const spin = kiln(
      'exec',
      '--timeout',
      '9000',
      instance.id,
      '--',
      'sh',
      '-c',
      'timeout 6 sh -c "while :; do :; done"; true',
    );
    // Sample only once the loop runs (the exec's own start is not what is measured).
    await expect.poll(cpuNow, { timeout: 5000 }).toBeGreaterThan(idleCpu + 100_000);
    const out = await kiln('stats', '--no-stream', '--json');
    const spun = await spin;
    expect(out.code, out.stderr).toBe(0);
    expect(spun.code).toBe(0);
    const line = (
      JSON.parse(out.stdout) as { id: string; cpuPercent: number; memoryBytes: number; requests: number }[]
    ).find((l) => l.id === instance.id);
    expect(line?.cpuPercent).toBeGreaterThan(10);
    expect(line?.memoryBytes).toBeGreaterThan(0);
    expect(line?.requests).toBeGreaterThan(0);
    expect((await kiln('stats', '--no-stream')).stdout).toMatch(
      /^INSTANCE\s+FUNCTION\s+VERSION\s+STATE\s+CPU %/,
    );
  });

  it('kiln system info and df: versions and counts; a blob no ref reaches is reclaimable', async () => {
    const info = await kiln('system', 'info', '--json');
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({
      version: expect.any(String),
      ociRuntime: expect.stringMatching(/crun|runc/),
      cgroup: expect.stringMatching(/^v[12]$/),
      dataDir: t.dataDir,
      functions: 1,
      versions: 1,
    });
    const df = async () => {
      const out = await kiln('system', 'df', '--json');
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout) as {
        images: { count: number; bytes: number; reclaimableBytes: number; reclaimableCount: number };
        snapshots: { count: number };
        reclaimableBytes: number;
      };
    };
    const before = await df();
    expect(before.images.count).toBeGreaterThan(0);
    expect(before.snapshots.count).toBeGreaterThan(0);
    // The store is shared with other test runs, which add and untag images meanwhile: check
    // the mark (what refs, versions and containers reach) for this blob and this function's image, and the totals' sense.
    const junk = await t.kiln.images.putBytes(
      `unreferenced ${process.pid} ${Date.now()}`,
      'application/octet-stream',
    );
    try {
      const marked = await t.kiln.pruner.mark();
      expect(marked.has(junk.digest)).toBe(false);
      const image = await t.kiln.images.getImage(t.kiln.functions.active('sh').image);
      for (const d of [
        image.manifestDigest,
        image.manifest.config.digest,
        ...image.manifest.layers.map((l) => l.digest),
      ])
        expect(marked.has(d), d).toBe(true);
      const after = await df();
      expect(after.images.reclaimableBytes).toBeGreaterThanOrEqual(junk.size);
      expect(after.images.reclaimableBytes).toBeLessThanOrEqual(after.images.bytes);
      expect(after.reclaimableBytes).toBeGreaterThanOrEqual(after.images.reclaimableBytes);
      expect((await kiln('system', 'df')).stdout).toMatch(/^TYPE\s+COUNT\s+SIZE\s+RECLAIMABLE/);
    } finally {
      await rm(t.kiln.images.blobPath(junk.digest), { force: true });
    }
  }, 120_000);

  it('answers a wrong method with 405 and Allow, an unknown path with 404', async () => {
    const wrong = await fetch(`${t.url}/functions`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    const put = await fetch(`${t.url}/functions/sh`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH');
    expect((await fetch(`${t.url}/nothing-here`)).status).toBe(404);
  });
});
