import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountPoints } from '../../src/deploy/debris.js';
import { controlCall, deployDir, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

/**
 * The instances of one function version run from one overlay mount (src/runtime/shared-rootfs.ts),
 * never shared with another function's, even one of the same files, and gone with the last.
 */
let t: TestGateway;

interface Ps {
  instances: { id: string; function: string; version: number; state: string }[];
}

async function instancesOf(name: string): Promise<Ps['instances']> {
  const ps = await runKiln(t.url, ['ps', '--json']);
  return (JSON.parse(ps.stdout) as Ps).instances.filter((i) => i.function === name);
}

/** The device of the instance's root mount, as its own /proc/self/mountinfo says: one per superblock. */
async function rootDevice(id: string): Promise<string> {
  const cat = await runKiln(t.url, ['exec', id, '--', 'cat', '/proc/self/mountinfo']);
  expect(cat.code, cat.stderr).toBe(0);
  const root = cat.stdout
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[4] === '/');
  if (!root) throw new Error(`no root mount in ${cat.stdout}`);
  expect(root.slice(root.indexOf('-') + 1)[0]).toBe('overlay');
  return root[2]!;
}

/** Overlays the gateway has mounted for shared roots now. */
async function sharedMounts(): Promise<string[]> {
  const roots = path.join(t.dataDir, 'instances', '.roots');
  return (await mountPoints()).filter((at) => at.startsWith(roots));
}

beforeAll(async () => {
  t = await startTestGateway();
  const dir = path.join(t.srcDir, 'same');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'index.mjs'), `export default { fetch: () => new Response('up') };\n`);
  for (const [name, count] of [
    ['one', '2'],
    ['other', '1'],
  ] as const) {
    const deployed = await deployDir(t.url, dir, { name, runtime: 'node', minInstances: count });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
});

describe('a function version’s instances', () => {
  it('share one read-only root mount, which no other function shares and which goes with them', async () => {
    await expect.poll(async () => (await instancesOf('one')).length, { timeout: 30_000 }).toBe(2);
    await expect.poll(async () => (await instancesOf('other')).length, { timeout: 30_000 }).toBe(1);
    const [a, b] = await instancesOf('one');
    const [c] = await instancesOf('other');
    const devices = await Promise.all([a!, b!, c!].map((i) => rootDevice(i.id)));
    expect(devices[0]).toBe(devices[1]);
    // Same files, same layers, another function: a mount of its own.
    expect(devices[2]).not.toBe(devices[0]);
    expect(await sharedMounts()).toHaveLength(2);
    // The root is read-only for each, shared or not.
    const write = await runKiln(t.url, ['exec', a!.id, '--', 'sh', '-c', 'echo x > /opt/x']);
    expect(write.stderr).toContain('Read-only file system');

    for (const name of ['one', 'other'])
      expect((await controlCall(t.url, 'DELETE', `/functions/${name}`)).status).toBe(200);
    await expect.poll(async () => (await sharedMounts()).length, { timeout: 30_000 }).toBe(0);
  });
});
