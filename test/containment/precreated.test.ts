import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXAMPLES } from '../harness.js';
import { cgroupsOf, GatewayProcess, mountsUnder } from './gateway-process.js';

/**
 * issue 17 (the cold path): with `KILN_PRECREATED`, a function version scaled to zero gets
 * a container created ahead (`crun create`), so that its next cold start only runs
 * `crun start`; it is discarded when the version is redeployed or removed, at most
 * `KILN_PRECREATED` exist on the host, and a gateway stopped or killed leaves none of them
 * behind (no container, mount or cgroup).
 */
let gateway: GatewayProcess;

interface CreatedInfo {
  id: string;
  function: string;
  version: number;
  creating: boolean;
}

beforeAll(async () => {
  gateway = await GatewayProcess.start({ KILN_PRECREATED: '1' });
  for (const name of ['py', 'other']) {
    const res = await gateway.deploy(path.join(EXAMPLES, 'hello-python'), { name });
    expect(res.status, res.text).toBe(201);
  }
});
afterAll(() => gateway?.remove());

async function listed(): Promise<{
  instances: { id: string; function: string }[];
  precreated: CreatedInfo[];
}> {
  const res = await fetch(`${gateway.url}/instances`, { headers: gateway.headers() });
  return (await res.json()) as { instances: { id: string; function: string }[]; precreated: CreatedInfo[] };
}

/** Stop every instance of `fn` (a scale to zero, as idle reaping does). */
async function stopAll(fn: string): Promise<void> {
  for (const instance of (await listed()).instances.filter((i) => i.function === fn)) {
    const res = await fetch(`${gateway.url}/instances/${instance.id}`, {
      method: 'DELETE',
      headers: gateway.headers(),
    });
    expect(res.status).toBeLessThan(300);
  }
}

/** The created container of `fn` once its create has finished. */
async function createdFor(fn: string, version: number): Promise<CreatedInfo> {
  let found: CreatedInfo | undefined;
  await expect
    .poll(
      async () => {
        found = (await listed()).precreated.find(
          (c) => c.function === fn && c.version === version && !c.creating,
        );
        return found !== undefined;
      },
      { timeout: 30_000 },
    )
    .toBe(true);
  return found!;
}

async function gone(id: string): Promise<void> {
  await expect.poll(async () => (await gateway.containers()).includes(id), { timeout: 30_000 }).toBe(false);
  const instances = path.join(gateway.dataDir, 'instances');
  expect(existsSync(path.join(instances, id)), 'instance dir').toBe(false);
  expect(
    (await mountsUnder(instances)).filter((m) => m.includes(id)),
    'mounts',
  ).toEqual([]);
  expect(await cgroupsOf([id]), 'cgroups').toEqual([]);
}

it('the next cold start of a version scaled to zero runs the container created for it', async () => {
  await stopAll('py');
  const created = await createdFor('py', 1);
  // Created, not started: its process waits for `crun start`.
  const { stdout } = await promisify(execFile)('crun', ['--root', gateway.stateRoot, 'state', created.id]);
  expect(JSON.parse(stdout)).toMatchObject({ status: 'created' });

  const res = await fetch(`${gateway.url}/fn/py/?name=ahead`);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('ahead');
  expect(res.headers.get('x-kiln-start')).toBe('cold');
  expect(res.headers.get('x-kiln-instance')).toBe(created.id);
  const timing = res.headers.get('server-timing') ?? '';
  expect(timing).toMatch(/\bprecreated\b/);
  expect(timing).not.toMatch(/\bmount\b/);
  expect(timing).toMatch(/\bruntime\b/);
  // Taken: it is an instance now, not a created container.
  expect((await listed()).precreated.filter((c) => c.id === created.id)).toEqual([]);
});

it('holds at most KILN_PRECREATED created containers on the host', async () => {
  await stopAll('py');
  await createdFor('py', 1);
  await stopAll('other');
  // `other` lost its last instance too, but the host holds its one already.
  const res = await fetch(`${gateway.url}/fn/other/`);
  expect(res.status).toBe(200);
  expect(res.headers.get('server-timing') ?? '').toMatch(/\bmount\b/);
  expect((await listed()).precreated.map((c) => c.function)).toEqual(['py']);
});

it('a redeploy and a kiln rm discard the version’s created container', async () => {
  const v1 = await createdFor('py', 1);
  const redeploy = await gateway.deploy(path.join(EXAMPLES, 'hello-python'), { name: 'py', memoryMb: '192' });
  expect(redeploy.status, redeploy.text).toBe(201);
  await gone(v1.id);
  expect((await listed()).precreated.filter((c) => c.version === 1)).toEqual([]);

  await stopAll('py');
  const v2 = await createdFor('py', 2);
  const rm = await fetch(`${gateway.url}/functions/py`, { method: 'DELETE', headers: gateway.headers() });
  expect(rm.status).toBeLessThan(300);
  await gone(v2.id);
  expect((await listed()).precreated).toEqual([]);
});

it('a gateway stopped, or killed and started again, leaves no created container behind', async () => {
  await stopAll('other');
  const first = await createdFor('other', 1);
  await gateway.stop();
  await gone(first.id);

  await gateway.launch();
  expect((await fetch(`${gateway.url}/fn/other/`)).status).toBe(200);
  await stopAll('other');
  const second = await createdFor('other', 1);
  await gateway.kill9();
  // Nothing reaped it: it waits in the runtime's state root.
  expect(await gateway.containers()).toContain(second.id);
  await gateway.launch();
  await gone(second.id);
});

it('kiln rm of a function with an idle instance leaves no created container, and a new function of that name runs its own code', async () => {
  const first = await gateway.deploy(path.join(EXAMPLES, 'hello-python'), { name: 'reborn' });
  expect(first.status, first.text).toBe(201);
  const warm = await fetch(`${gateway.url}/fn/reborn/?name=first`);
  expect(await warm.text()).toContain('Hello, first!');
  // Its idle instance stops during the rm: that used to create the version's container ahead
  // again, after the rm had discarded those it had.
  const removed = await fetch(`${gateway.url}/functions/reborn`, {
    method: 'DELETE',
    headers: gateway.headers(),
  });
  expect(removed.status).toBeLessThan(300);
  const after = await listed();
  expect(after.precreated.filter((c) => c.function === 'reborn')).toEqual([]);
  expect(after.instances.filter((i) => i.function === 'reborn')).toEqual([]);
  // Every container the runtime still holds is a listed instance: none created ahead left over.
  const ids = new Set(after.instances.map((i) => i.id));
  expect((await gateway.containers()).filter((id) => !ids.has(id))).toEqual([]);

  // Version numbers start at 1 again: the new `reborn@1` must not get the old one's container.
  const dir = await mkdtemp(path.join(tmpdir(), 'kiln-reborn-'));
  await writeFile(path.join(dir, 'kiln.json'), JSON.stringify({ name: 'reborn', runtime: 'python' }));
  await writeFile(
    path.join(dir, 'handler.py'),
    'def handler(event, context):\n    return "the new reborn\\n"\n',
  );
  const second = await gateway.deploy(dir, { name: 'reborn' });
  await rm(dir, { recursive: true, force: true });
  expect(second.status, second.text).toBe(201);
  const res = await fetch(`${gateway.url}/fn/reborn/`);
  expect(await res.text()).toBe('the new reborn\n');
});
