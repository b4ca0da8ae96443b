import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Issue 8, attempt 3 (first half): the shim's socket dir was a writable bind of a host dir,
 * and a function wrote 1 GiB into it. Now the socket is handed over as fd 0 and nothing of
 * the host is mounted writable. The function tries to write into every directory it can
 * see, fills what it can write to, and reports its writable mounts; the host side shows no
 * growth.
 */
interface Report {
  dirs: number;
  writable: string[];
  refused: Record<string, number>;
  filled: Record<string, { bytes: number; stopped_by: string | null }>;
  rw_mounts: [string, string][];
}

let t: TestGateway;
let report: Report;
let hostBefore: number;
let hostAfter: number;

/** Bytes of regular files under `dir`, not crossing into mounts (an instance's rootfs is one). */
async function hostBytes(dir: string, dev?: number): Promise<number> {
  const self = await stat(dir);
  if (dev !== undefined && self.dev !== dev) return 0;
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await hostBytes(full, self.dev);
    else if (entry.isFile()) total += (await stat(full)).size;
  }
  return total;
}

beforeAll(async () => {
  t = await startTestGateway();
  const deployed = await deployDir(t.url, path.join(FIXTURES, 'hostile'), {
    name: 'hostile',
    runtime: 'python',
    memoryMb: '256',
  });
  expect(deployed.status).toBe(201);
  await fetch(`${t.url}/fn/hostile/whoami`);
  hostBefore = await hostBytes(t.kiln.data.instances);
  const res = await fetch(`${t.url}/fn/hostile/write-everywhere`);
  expect(res.status).toBe(200);
  report = (await res.json()) as Report;
  hostAfter = await hostBytes(t.kiln.data.instances);
}, 120_000);
afterAll(() => t?.close());

describe('what a function can write', () => {
  it('walked the whole file tree it sees', () => {
    expect(report.dirs).toBeGreaterThan(500);
    // Almost everything is the read-only overlay root.
    expect(report.refused.EROFS).toBeGreaterThan(400);
  });

  it('is only its own tmpfs /tmp and /dev/shm', () => {
    expect(report.writable.sort()).toEqual(['/dev/shm', '/tmp']);
    for (const [mountPoint, fstype] of report.rw_mounts) {
      // No bind of a host dir: proc (its sensitive paths read-only), tmpfs and devpts of the
      // container's own, and its own cgroup's dirs, whose files are root's (the walk above
      // went through them: not writable).
      expect(['tmpfs', 'proc', 'devpts', 'cgroup', 'cgroup2'], `${mountPoint} (${fstype})`).toContain(fstype);
    }
    expect(report.rw_mounts.map(([m]) => m)).not.toContain('/run/kiln');
  });

  it('is capped: /tmp and /dev/shm fill up at 64 MiB', () => {
    for (const dir of ['/tmp', '/dev/shm']) {
      expect(report.filled[dir]?.stopped_by).toBe('ENOSPC');
      expect(report.filled[dir]?.bytes).toBeLessThanOrEqual(64 * 1024 * 1024);
    }
  });

  it('left nothing on the host: the instances dir did not grow', () => {
    expect(hostAfter - hostBefore).toBeLessThan(64 * 1024);
  });
});
