import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UID_RANGE } from '../../src/runtime/uid-leases.js';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Issue 8, attempt 9: every function ran as host uid 65534, so one function used up that
 * uid's 128 inotify instances (fs.inotify.max_user_instances) and another's inotify_init1
 * failed. Each container now runs as a uid of its own from Kiln's range.
 */
let t: TestGateway;
const get = async (fn: string, p: string) =>
  (await (await fetch(`${t.url}/fn/${fn}${p}`)).json()) as Record<string, unknown>;

beforeAll(async () => {
  t = await startTestGateway();
  for (const name of ['hog', 'victim']) {
    const deployed = await deployDir(t.url, path.join(FIXTURES, 'hostile'), { name, runtime: 'python' });
    expect(deployed.status).toBe(201);
  }
});
afterAll(() => t?.close());

describe('uids', () => {
  it("runs two functions' processes under different uids from Kiln's range", async () => {
    const hog = await get('hog', '/whoami');
    const victim = await get('victim', '/whoami');
    expect(hog.uid).not.toBe(victim.uid);
    for (const who of [hog, victim]) {
      expect(who.uid).toBe(who.euid);
      expect(who.gid).toBe(who.uid);
      expect(who.uid).toBeGreaterThanOrEqual(DEFAULT_UID_RANGE.first);
      expect(who.uid).toBeLessThanOrEqual(DEFAULT_UID_RANGE.last);
    }
    // This gateway holds a lease on each, so no other container on the host gets them.
    const leases = await leasesOf(t.kiln.runtime.uids.dir, t.kiln.runtime.uids.owner);
    expect(leases).toEqual(expect.arrayContaining([String(hog.uid), String(victim.uid)]));
  });

  it("does not let one function's inotify exhaustion stop another's inotify_init1", async () => {
    const hogged = await get('hog', '/inotify-hog');
    // The hog ran into its uid's limit (not the open-files limit, which is 4096).
    expect(hogged).toMatchObject({ stopped_by: 'EMFILE' });
    expect(hogged.held).toBeLessThanOrEqual(128);
    expect(await get('hog', '/inotify-one')).toEqual({ inotify_init1: 'EMFILE' });
    expect(await get('victim', '/inotify-one')).toEqual({ inotify_init1: 'ok' });
  });

  it('frees a uid when its container is gone', async () => {
    const [instance] = (await t.kiln.pool.list()).filter((i) => i.function === 'hog');
    const leases = t.kiln.runtime.uids;
    const before = await leasesOf(leases.dir, leases.owner);
    await fetch(`${t.url}/instances/${instance!.id}`, { method: 'DELETE' });
    await expect.poll(async () => (await leasesOf(leases.dir, leases.owner)).length).toBe(before.length - 1);
  });
});

async function leasesOf(dir: string, owner: string): Promise<string[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const out: string[] = [];
  for (const name of await readdir(dir))
    if ((await readFile(path.join(dir, name), 'utf8')) === owner) out.push(name);
  return out;
}
