import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupVersion, hybridCgroup2, readMounts } from '../../src/runtime/cgroup/host.js';
import { CgroupV1Tree } from '../../src/runtime/cgroup/v1.js';
import { CgroupV2Tree } from '../../src/runtime/cgroup/v2.js';

/**
 * The cgroup implementations against the kernel itself: what a fake tree cannot show (the
 * kernel refusing memsw below memory, tasks really freezing). This host runs v1 with a
 * cgroup2 mount beside it, so both versions' freezers run here.
 */
const ROOT = '/sys/fs/cgroup';
const MiB = 1024 * 1024;
const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer'];
const isV1 = (await cgroupVersion(ROOT)) === 'v1';
const hybrid = isV1 ? await hybridCgroup2(await readMounts()) : undefined;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A `sleep` child of this process, killed (and reaped) after the test. */
function sleeper(): ChildProcess {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  cleanups.push(async () => {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  });
  return child;
}

/** mkdir a cgroup now, rmdir it after the test (once its tasks are gone). */
async function makeCgroup(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  cleanups.unshift(async () => {
    for (let i = 0; i < 50; i++) {
      // rmdir fails with EBUSY until the killed task has left the cgroup.
      if (
        await rmdir(dir).then(
          () => true,
          () => false,
        )
      )
        return;
      await sleep(20);
    }
  });
}

describe.runIf(isV1)('cgroup v1 against the kernel', () => {
  it('moves memory+swap with memory in both directions without the kernel refusing a write', async () => {
    const rel = `kiln-test-${randomBytes(4).toString('hex')}`;
    for (const c of V1_CONTROLLERS) await makeCgroup(path.join(ROOT, c, rel));
    const cgroup = new CgroupV1Tree(ROOT).open(rel);
    const memory = path.join(ROOT, 'memory', rel);
    const hasMemsw = await readFile(path.join(memory, 'memory.memsw.limit_in_bytes')).then(
      () => true,
      () => false,
    );
    for (const mb of [64, 256, 32]) {
      await cgroup.setLimits({ memoryBytes: mb * MiB, pids: 48, cpus: 0.25 });
      expect(Number(await readFile(path.join(memory, 'memory.limit_in_bytes'), 'utf8'))).toBe(mb * MiB);
      if (hasMemsw)
        expect(Number(await readFile(path.join(memory, 'memory.memsw.limit_in_bytes'), 'utf8'))).toBe(
          mb * MiB,
        );
    }
    expect((await readFile(path.join(ROOT, 'pids', rel, 'pids.max'), 'utf8')).trim()).toBe('48');
    expect((await readFile(path.join(ROOT, 'cpu', rel, 'cpu.cfs_quota_us'), 'utf8')).trim()).toBe('25000');
  });

  it('freezes a running task and thaws it, and counts its pids', async () => {
    const rel = `kiln-test-${randomBytes(4).toString('hex')}`;
    for (const c of V1_CONTROLLERS) await makeCgroup(path.join(ROOT, c, rel));
    const child = sleeper();
    for (const c of ['pids', 'freezer'])
      await writeFile(path.join(ROOT, c, rel, 'cgroup.procs'), String(child.pid));
    const cgroup = new CgroupV1Tree(ROOT).open(rel);
    expect((await cgroup.stats()).pids).toBe(1);
    await cgroup.freeze();
    expect(await readFile(path.join(ROOT, 'freezer', rel, 'freezer.state'), 'utf8')).toBe('FROZEN\n');
    await cgroup.thaw();
    expect(await cgroup.frozen()).toBe(false);
  });
});

describe.runIf(hybrid !== undefined || !isV1)('cgroup v2 freezer against the kernel', () => {
  it('freezes a running task through cgroup.freeze and reports it frozen, then thaws it', async () => {
    const unified = hybrid?.target ?? ROOT;
    const rel = `kiln-test-${randomBytes(4).toString('hex')}`;
    await makeCgroup(path.join(unified, rel));
    const child = sleeper();
    await writeFile(path.join(unified, rel, 'cgroup.procs'), String(child.pid));
    const cgroup = new CgroupV2Tree(unified).open(rel);
    await cgroup.freeze();
    expect(await readFile(path.join(unified, rel, 'cgroup.events'), 'utf8')).toMatch(/^frozen 1$/m);
    await cgroup.thaw();
    expect(await cgroup.frozen()).toBe(false);
  });
});
