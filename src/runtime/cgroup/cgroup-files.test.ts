import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCgroupFile } from './cgroup-files.js';

describe('readCgroupFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kiln-cgroup-files-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file longer than one read whole, trimmed', async () => {
    const lines = Array.from({ length: 900 }, (_, i) => `total_stat_${i} ${i * 4096}`).join('\n');
    expect(lines.length).toBeGreaterThan(3 * 4000);
    await writeFile(path.join(dir, 'memory.stat'), `${lines}\n`);
    expect(await readCgroupFile(path.join(dir, 'memory.stat'))).toBe(lines);
  });

  it('reads a cgroupfs file, whose size the kernel gives as 0', async () => {
    // The gateway's own cgroup: every host has one, v1 or v2.
    const own = (await readCgroupFile('/proc/self/cgroup')).split('\n')[0] ?? '';
    expect(own).toMatch(/^\d+:/);
    const found = await readCgroupFile('/sys/fs/cgroup/cgroup.controllers');
    const v1 = await readCgroupFile('/sys/fs/cgroup/memory/memory.usage_in_bytes');
    expect(found || v1).not.toBe('');
  });

  it('reads a file that is gone as empty', async () => {
    expect(await readCgroupFile(path.join(dir, 'gone'))).toBe('');
  });
});
