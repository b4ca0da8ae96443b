import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CgroupTree } from '../../src/runtime/cgroup/cgroup.js';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Issue 8, attempt 11 (first half): there was no default CPU quota, so a function's
 * background work could take every core. `cpus` now defaults to 1, and stem cells, which
 * run before any function's spec applies, get a quota too.
 */
let t: TestGateway;

/** The CFS quota of a container's cgroup, in cores (undefined: none). */
async function cores(tree: CgroupTree, id: string): Promise<number | undefined> {
  if (tree.version === 'v1') {
    const dir = path.join(tree.root, 'cpu', 'kiln', id);
    const quota = Number(await readFile(path.join(dir, 'cpu.cfs_quota_us'), 'utf8'));
    return quota < 0
      ? undefined
      : quota / Number(await readFile(path.join(dir, 'cpu.cfs_period_us'), 'utf8'));
  }
  const [quota, period] = (await readFile(path.join(tree.root, 'kiln', id, 'cpu.max'), 'utf8'))
    .trim()
    .split(' ');
  return quota === 'max' ? undefined : Number(quota) / Number(period);
}

beforeAll(async () => {
  t = await startTestGateway({ stemCells: 1 });
  const deployed = await deployDir(t.url, path.join(FIXTURES, 'hostile'), {
    name: 'default-cpu',
    runtime: 'python',
  });
  expect(deployed.status).toBe(201);
  await t.kiln.pool.stemCells.whenFull();
});
afterAll(() => t?.close());

describe('CPU quotas', () => {
  it('gives a function with no cpus in its spec one core', async () => {
    const record = t.kiln.functions.get('default-cpu');
    expect(record.versions[0]?.spec.cpus).toBe(1);
    const [instance] = await t.kiln.pool.list();
    expect(await cores(t.kiln.runtime.cgroups, instance!.id)).toBe(1);
  });

  it('gives a stem cell a quota before it is any function', async () => {
    const [cell] = await t.kiln.pool.listStemCells();
    expect(await cores(t.kiln.runtime.cgroups, cell!.id)).toBe(1);
  });
});
