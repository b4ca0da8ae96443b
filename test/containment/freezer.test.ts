import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceInfo } from '../../src/pool/warm-pool.js';
import type { CgroupTree } from '../../src/runtime/cgroup/cgroup.js';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Issue 8, attempt 11 (second half): background work kept running after a response (a
 * spinner slowed a host CPU loop by 60 %). Now an instance idle past the freeze delay
 * (`KILN_FREEZE_AFTER_MS`, 50 ms by default) is frozen with the cgroup freezer, as Lambda
 * freezes an environment between invokes, and thawed for its next request.
 */
let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ stemCells: 0 });
  const deployed = await deployDir(t.url, path.join(FIXTURES, 'spinner'), {
    name: 'spinner',
    runtime: 'node',
  });
  expect(deployed.status).toBe(201);
});
afterAll(() => t?.close());

async function instance(): Promise<InstanceInfo> {
  const { instances } = (await (await fetch(`${t.url}/instances`)).json()) as { instances: InstanceInfo[] };
  const [only] = instances.filter((i) => i.function === 'spinner');
  if (!only) throw new Error('no instance of spinner');
  return only;
}

/** What the kernel says of the container's cgroup: frozen or not. */
async function kernelFrozen(tree: CgroupTree, id: string): Promise<boolean> {
  if (tree.version === 'v1')
    return (
      (await readFile(path.join(tree.root, 'freezer', 'kiln', id, 'freezer.state'), 'utf8')).trim() ===
      'FROZEN'
    );
  return /^frozen 1$/m.test(await readFile(path.join(tree.root, 'kiln', id, 'cgroup.events'), 'utf8'));
}

async function eventually(check: () => Promise<boolean>, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await sleep(20);
  }
}

describe('idle instances are frozen', () => {
  it('a background spinner gets no CPU between requests, and the next request thaws its instance', async () => {
    const started = await fetch(`${t.url}/fn/spinner/spin`);
    expect(started.status).toBe(200);
    const id = started.headers.get('x-kiln-instance')!;
    await eventually(async () => (await instance()).state === 'frozen');
    await eventually(() => kernelFrozen(t.kiln.runtime.cgroups, id));
    // Frozen: the spinner, which would use a whole core, gets no CPU time at all.
    const before = (await instance()).cpuUsageUs;
    await sleep(500);
    const after = await instance();
    expect(after.state).toBe('frozen');
    expect(after.cpuUsageUs).toBe(before);

    const next = await fetch(`${t.url}/fn/spinner/`);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-kiln-instance')).toBe(id);
    expect(next.headers.get('x-kiln-start')).toBe('warm');
    expect(next.headers.get('server-timing')).toMatch(/thaw;dur=[\d.]+/);
    // Thawed, the spinner ran again while the request was served: CPU time moved.
    expect((await instance()).cpuUsageUs).toBeGreaterThan(before);
  });

  it('a frozen instance is stopped cleanly (thawed first): kiln stop leaves no container', async () => {
    await eventually(async () => (await instance()).state === 'frozen');
    const { id } = await instance();
    const stopped = await fetch(`${t.url}/instances/${id}`, { method: 'DELETE' });
    expect(stopped.status).toBeLessThan(300);
    await eventually(async () => !(await t.kiln.runtime.driver.list()).includes(id));
  });
});
