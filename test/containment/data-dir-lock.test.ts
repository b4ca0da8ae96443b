import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { EXAMPLES } from '../harness.js';
import { GatewayProcess } from './gateway-process.js';

/**
 * `kiln serve` twice on one data dir: the second one's start-up cleanup (containers, mounts,
 * work dirs of the last run) used to stop the first one's live instances, then it failed on
 * the port; the first answered 500 from then on. Now the second refuses before it touches
 * anything, and the first serves on from the same instance.
 */
let first: GatewayProcess | undefined;
afterAll(() => first?.remove());

it('a second gateway on a data dir in use refuses to start (data_dir_in_use) and the first keeps its instance', async () => {
  first = await GatewayProcess.start({ KILN_FREEZE_AFTER_MS: 'off' });
  expect((await first.deploy(path.join(EXAMPLES, 'hello-node'), { name: 'kept' })).status).toBe(201);
  const before = await fetch(`${first.url}/fn/kept/`);
  expect(before.status).toBe(200);
  const instance = before.headers.get('x-kiln-instance');
  expect(instance).toBeTruthy();

  const second = GatewayProcess.startOn(first.dataDir);
  await expect(second).rejects.toThrow(
    /exited \(1\).*data dir .* in use|another Kiln gateway \(pid \d+\) uses the data dir/s,
  );

  const after = await fetch(`${first.url}/fn/kept/`);
  expect(after.status).toBe(200);
  expect(after.headers.get('x-kiln-instance')).toBe(instance);
}, 180_000);

it('a gateway killed with -9 leaves a stale pid file that the next start takes over', async () => {
  if (!first) throw new Error('no first gateway');
  await first.kill9();
  await first.launch();
  const res = await fetch(`${first.url}/fn/kept/`);
  expect(res.status).toBe(200);
}, 180_000);
