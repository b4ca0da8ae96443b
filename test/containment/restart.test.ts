import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXAMPLES, FIXTURES } from '../harness.js';
import { cgroupsOf, GatewayProcess, mountsUnder } from './gateway-process.js';

/**
 * issue 12 (durability): a gateway killed with SIGKILL while its instances and stem cells
 * run comes back with every function, version and alias serving, and nothing of the dead
 * run left: no container in its runtime's state root, no mount under its data dir, no
 * cgroup of its containers, no uid lease, no copy of a secret on the secrets tmpfs.
 */
let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await GatewayProcess.start({ KILN_STEM_CELLS: '1' });
});
afterAll(() => gateway?.remove());

async function leasesOf(stateRoot: string): Promise<string[]> {
  const held: string[] = [];
  for (const uid of await readdir('/run/kiln/uids').catch(() => [] as string[])) {
    const owner = await readFile(path.join('/run/kiln/uids', uid), 'utf8').catch(() => '');
    if (owner.trim() === stateRoot) held.push(uid);
  }
  return held;
}

async function serves(ref: string, expected: string): Promise<void> {
  const res = await fetch(`${gateway.url}/fn/${ref}/?name=again`);
  expect(res.status, ref).toBe(200);
  expect(await res.text(), ref).toContain(expected);
}

it('kill -9 with instances running, then a restart: every function, version and alias serves, nothing of the dead run remains', async () => {
  expect((await gateway.deploy(path.join(EXAMPLES, 'hello-node'), { name: 'web' })).status).toBe(201);
  expect(
    (await gateway.deploy(path.join(FIXTURES, 'hello-v2'), { name: 'web', runtime: 'node' })).status,
  ).toBe(201);
  const alias = await fetch(`${gateway.url}/functions/web/aliases/prod`, {
    method: 'PUT',
    headers: gateway.headers({ 'content-type': 'application/json' }),
    body: '{"version":1}',
  });
  expect(alias.status).toBe(200);
  // py's instances get a secret: their copies live on the gateway's secrets tmpfs.
  const secret = await fetch(`${gateway.url}/secrets`, {
    method: 'POST',
    headers: gateway.headers({ 'content-type': 'application/json' }),
    body: JSON.stringify({ name: 'token', value: 'restart-secret' }),
  });
  expect(secret.status).toBe(201);
  const py = await gateway.deploy(path.join(EXAMPLES, 'hello-python'), {
    name: 'py',
    minInstances: '1',
    secrets: 'token',
  });
  expect(py.status).toBe(201);
  await serves('web', 'version two');
  await serves('web@1', 'Hello, again!');
  await serves('web@prod', 'Hello, again!');
  await serves('py', 'again');

  const instances = path.join(gateway.dataDir, 'instances');
  const before = [
    ...new Set([
      ...(await gateway.containers()),
      ...(await readdir(instances)).filter((n) => !n.startsWith('.')),
    ]),
  ];
  // web@2, web@1, py, and the stem cells of node and python.
  expect(before.length).toBeGreaterThanOrEqual(3);
  const ofDeadRun = (mounts: string[]) =>
    mounts.filter((m) => before.includes(path.relative(instances, m).split('/')[0]!));
  expect(ofDeadRun(await mountsUnder(instances))).not.toEqual([]);
  expect(await cgroupsOf(before)).not.toEqual([]);
  const secretCopies = path.join('/run/kiln/secrets', path.basename(gateway.stateRoot));
  expect((await readdir(secretCopies)).filter((id) => before.includes(id))).not.toEqual([]);
  await gateway.kill9();
  // The dead gateway's containers still run: nothing reaped them.
  expect((await gateway.containers()).filter((id) => before.includes(id))).not.toEqual([]);

  await gateway.launch();
  expect(
    (await gateway.containers()).filter((id) => before.includes(id)),
    'containers',
  ).toEqual([]);
  expect(ofDeadRun(await mountsUnder(instances)), 'mounts').toEqual([]);
  expect(await cgroupsOf(before), 'cgroups').toEqual([]);
  expect(
    before.filter((id) => existsSync(path.join(instances, id))),
    'instance dirs',
  ).toEqual([]);
  expect(
    (await readdir(secretCopies)).filter((id) => before.includes(id)),
    'secrets copies',
  ).toEqual([]);
  // Only leases of containers the new run started are held (a stem cell may be starting:
  // its lease comes before its container).
  await expect
    .poll(async () => (await leasesOf(gateway.stateRoot)).length <= (await gateway.containers()).length, {
      timeout: 30_000,
    })
    .toBe(true);

  await serves('web', 'version two');
  await serves('web@1', 'Hello, again!');
  await serves('web@prod', 'Hello, again!');
  await serves('py', 'again');
  const record = await (await fetch(`${gateway.url}/functions/web`, { headers: gateway.headers() })).json();
  expect(record).toMatchObject({ activeVersion: 2, aliases: { prod: 1 } });
});
