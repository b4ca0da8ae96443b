import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CgroupTree } from './cgroup.js';
import { cgroupVersion, detectCgroupTree, reportCgroups } from './host.js';
import { CgroupV1Tree } from './v1.js';
import { CgroupV2Tree } from './v2.js';

const ID = 'kiln/k1';
const MiB = 1024 * 1024;

/** Files as the kernel shows them for a freshly started stem cell (512 MiB, no quota). */
async function fakeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
}

const v1Files = (withMemsw = true): Record<string, string> => ({
  [`memory/${ID}/memory.limit_in_bytes`]: String(512 * MiB),
  ...(withMemsw ? { [`memory/${ID}/memory.memsw.limit_in_bytes`]: String(512 * MiB) } : {}),
  [`memory/${ID}/memory.usage_in_bytes`]: '9437184',
  [`memory/${ID}/memory.oom_control`]: 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
  [`pids/${ID}/pids.max`]: '256',
  [`pids/${ID}/pids.current`]: '7',
  [`cpu/${ID}/cpu.cfs_period_us`]: '100000',
  [`cpu/${ID}/cpu.cfs_quota_us`]: '-1',
  [`cpuacct/${ID}/cpuacct.usage`]: '5250000',
  [`freezer/${ID}/freezer.state`]: 'THAWED\n',
});

const v2Files = (withSwap = true): Record<string, string> => ({
  'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
  [`${ID}/memory.max`]: String(512 * MiB),
  ...(withSwap ? { [`${ID}/memory.swap.max`]: '0' } : {}),
  [`${ID}/memory.current`]: '9437184',
  [`${ID}/memory.events`]: 'low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n',
  [`${ID}/pids.max`]: '256',
  [`${ID}/pids.current`]: '7',
  [`${ID}/cpu.max`]: 'max 100000',
  [`${ID}/cpu.stat`]: 'usage_usec 5250\nuser_usec 4000\nsystem_usec 1250\n',
  [`${ID}/cgroup.freeze`]: '0',
  [`${ID}/cgroup.events`]: 'populated 1\nfrozen 0\n',
});

/** Where each version keeps the files a test reads back. */
const layout = {
  v1: {
    memory: `memory/${ID}/memory.limit_in_bytes`,
    pids: `pids/${ID}/pids.max`,
    cpu: `cpu/${ID}/cpu.cfs_quota_us`,
    halfCore: '50000',
    noQuota: '-1',
    files: v1Files,
    tree: (root: string): CgroupTree => new CgroupV1Tree(root),
  },
  v2: {
    memory: `${ID}/memory.max`,
    pids: `${ID}/pids.max`,
    cpu: `${ID}/cpu.max`,
    halfCore: '50000 100000',
    noQuota: 'max 100000',
    files: v2Files,
    tree: (root: string): CgroupTree => new CgroupV2Tree(root),
  },
} as const;

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kiln-cgroupfs-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const read = (rel: string) => readFile(path.join(root, rel), 'utf8').then((s) => s.trim());

describe.each(['v1', 'v2'] as const)('cgroup %s on a fake cgroupfs', (version) => {
  const v = layout[version];

  it("sets a function's memory, pids and cpu quota on a stem cell's cgroup", async () => {
    await fakeTree(root, v.files());
    const cgroup = v.tree(root).open(ID);
    expect(cgroup.version).toBe(version);
    await cgroup.setLimits({ memoryBytes: 80 * MiB, pids: 64, cpus: 0.5 });
    expect(await read(v.memory)).toBe(String(80 * MiB));
    expect(await read(v.pids)).toBe('64');
    expect(await read(v.cpu)).toBe(v.halfCore);
    await cgroup.setLimits({ memoryBytes: 80 * MiB, pids: 64 });
    expect(await read(v.cpu)).toBe(v.noQuota);
  });

  it('reads memory, cpu time, pids and OOM kills', async () => {
    await fakeTree(root, v.files());
    const cgroup = v.tree(root).open(ID);
    expect(await cgroup.stats()).toEqual({ memoryBytes: 9437184, cpuUsageUs: 5250, pids: 7, oomKills: 2 });
    expect(await cgroup.oomKills()).toBe(2);
  });

  it('reads zeros from a cgroup that is gone, and refuses to set limits on it', async () => {
    const cgroup = v.tree(root).open('kiln/gone');
    expect(await cgroup.stats()).toEqual({ memoryBytes: 0, cpuUsageUs: 0, pids: 0, oomKills: 0 });
    await expect(cgroup.setLimits({ memoryBytes: 64 * MiB, pids: 64 })).rejects.toMatchObject({
      code: 'cgroup_write_failed',
    });
  });

  it('is detected as what it is', async () => {
    await fakeTree(root, v.files());
    expect(await cgroupVersion(root)).toBe(version);
    expect((await detectCgroupTree(root)).version).toBe(version);
  });
});

describe('cgroup v1 specifics', () => {
  it('keeps memory+swap equal to memory whichever way the limit moves', async () => {
    await fakeTree(root, v1Files());
    const cgroup = new CgroupV1Tree(root).open(ID);
    for (const mb of [1024, 64]) {
      await cgroup.setLimits({ memoryBytes: mb * MiB, pids: 64 });
      expect(await read(`memory/${ID}/memory.limit_in_bytes`)).toBe(String(mb * MiB));
      expect(await read(`memory/${ID}/memory.memsw.limit_in_bytes`)).toBe(String(mb * MiB));
    }
  });

  it('leaves memsw alone on a host without swap accounting', async () => {
    await fakeTree(root, v1Files(false));
    await new CgroupV1Tree(root).open(ID).setLimits({ memoryBytes: 64 * MiB, pids: 64 });
    await expect(read(`memory/${ID}/memory.memsw.limit_in_bytes`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('freezes and thaws through freezer.state', async () => {
    await fakeTree(root, v1Files());
    const cgroup = new CgroupV1Tree(root).open(ID);
    await cgroup.freeze();
    expect(await read(`freezer/${ID}/freezer.state`)).toBe('FROZEN');
    expect(await cgroup.frozen()).toBe(true);
    await cgroup.thaw();
    expect(await read(`freezer/${ID}/freezer.state`)).toBe('THAWED');
    expect(await cgroup.frozen()).toBe(false);
  });

  it('reports the version, the hybrid cgroup2 mount and the controllers it lacks', async () => {
    const mounts = (options: string[]) => [
      ...options.map((o) => ({
        source: 'cgroup',
        target: `/sys/fs/cgroup/${o}`,
        type: 'cgroup',
        options: [o],
      })),
      { source: 'cgroup2', target: '/sys/fs/cgroup/unified', type: 'cgroup2', options: ['rw'] },
    ];
    const full = await reportCgroups(root, mounts(['memory', 'pids', 'cpu', 'cpuacct', 'freezer']));
    expect(full).toEqual({
      version: 'v1',
      ok: true,
      detail:
        'cgroup v1 (hybrid: cgroup2 also mounted at /sys/fs/cgroup/unified) with memory, pids, cpu, cpuacct, freezer',
    });
    const lacking = await reportCgroups(root, mounts(['memory', 'cpu']));
    expect(lacking.ok).toBe(false);
    expect(lacking.detail).toMatch(/lacks pids$/);
  });
});

describe('cgroup v2 specifics', () => {
  it('allows no swap beyond memory, and leaves swap alone without swap accounting', async () => {
    await fakeTree(root, { ...v2Files(), [`${ID}/memory.swap.max`]: 'max' });
    await new CgroupV2Tree(root).open(ID).setLimits({ memoryBytes: 64 * MiB, pids: 64 });
    expect(await read(`${ID}/memory.swap.max`)).toBe('0');
    await rm(root, { recursive: true });
    await fakeTree(root, v2Files(false));
    await new CgroupV2Tree(root).open(ID).setLimits({ memoryBytes: 64 * MiB, pids: 64 });
    await expect(read(`${ID}/memory.swap.max`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('freezes through cgroup.freeze and waits until cgroup.events says frozen', async () => {
    await fakeTree(root, v2Files());
    const cgroup = new CgroupV2Tree(root).open(ID);
    let kernelDone = false;
    // The kernel reports the freeze a moment after the write asked for it.
    setTimeout(() => {
      kernelDone = true;
      void writeFile(path.join(root, ID, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    }, 30);
    await cgroup.freeze();
    expect(kernelDone).toBe(true);
    expect(await read(`${ID}/cgroup.freeze`)).toBe('1');
    expect(await cgroup.frozen()).toBe(true);
    await cgroup.thaw();
    expect(await read(`${ID}/cgroup.freeze`)).toBe('0');
  });

  it('gives up on a freeze the kernel never reports, and thaws again', async () => {
    await fakeTree(root, v2Files());
    const cgroup = new CgroupV2Tree(root).open(ID);
    await expect(cgroup.freeze(50)).rejects.toMatchObject({ code: 'cgroup_freeze_failed' });
    expect(await read(`${ID}/cgroup.freeze`)).toBe('0');
  });

  it('reports the version and the controllers it lacks', async () => {
    await fakeTree(root, v2Files());
    expect(await reportCgroups(root)).toMatchObject({ version: 'v2', ok: true });
    await writeFile(path.join(root, 'cgroup.controllers'), 'cpu memory\n');
    expect(await reportCgroups(root)).toMatchObject({
      version: 'v2',
      ok: false,
      detail: `cgroup v2 (unified at ${root}) lacks pids`,
    });
  });
});
