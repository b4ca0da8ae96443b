import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type FakeContainer,
  FakeDirectory,
  FakeLauncher,
  fnVersion,
  gate,
} from '../../test/fakes/fake-launcher.js';
import { StartAdmission } from './start-admission.js';
import { StemCellPool } from './stem-cells.js';
import { WarmPool } from './warm-pool.js';

/**
 * The pool's decisions through its seams, in milliseconds: a fake launcher whose
 * "containers" are shim-protocol servers on unix sockets, and a fake function directory.
 * The same behaviours against real containers are in test/integration/pool.test.ts.
 */
let launcher: FakeLauncher;
let directory: FakeDirectory;
let pool: WarmPool;
const logged: string[] = [];

function makePool(
  stemCellsPerLanguage = 0,
  starts = new StartAdmission(),
  freezeAfterMs: number | undefined = undefined,
): WarmPool {
  const stemCells = new StemCellPool(launcher, stemCellsPerLanguage, (line) => logged.push(line), starts);
  pool = new WarmPool(launcher, directory, stemCells, undefined, starts, freezeAfterMs);
  return pool;
}

beforeEach(async () => {
  launcher = await FakeLauncher.create();
  directory = new FakeDirectory();
  logged.length = 0;
});
afterEach(async () => {
  await pool?.shutdown();
  await launcher.close();
});

const get = (p: WarmPool, name: string, path = '/') => p.invoke(name, { method: 'GET', path, headers: {} });
const body = (r: { response: { body: Buffer } }) => r.response.body.toString();
const containerOf = (id: string) => launcher.started.find((c) => c.id === id) as FakeContainer;

/** Wait for a state the pool reaches on its own time (a refill, a maintenance pass). */
async function until(check: () => boolean | Promise<boolean>, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await sleep(5);
  }
}

describe('WarmPool', () => {
  it('serves the instance a deploy prepared: both requests say warm, the first prewarmed, same instance', async () => {
    makePool();
    const v1 = fnVersion('hello', 1);
    await pool.prepare(v1);
    directory.activate(v1);
    const first = await get(pool, 'hello');
    const second = await get(pool, 'hello');
    expect([first.start, second.start]).toEqual(['warm', 'warm']);
    expect([first.prewarmed, second.prewarmed]).toEqual([true, false]);
    expect(second.instanceId).toBe(first.instanceId);
    expect(body(second)).toBe('v1');
    expect(launcher.events).toEqual(['cold hello@1']);
  });

  it('refuses a prepare whose handler does not load, and keeps no instance of it', async () => {
    makePool();
    await expect(pool.prepare(fnVersion('broken', 1, {}, 'fail-init'))).rejects.toMatchObject({
      code: 'handler_load_failed',
      status: 400,
    });
    expect(await pool.list()).toEqual([]);
    expect(launcher.started[0]?.stopRequested).toBe(true);
  });

  it('answers 429 queue_full past maxInstances × concurrency running and maxQueue waiting', async () => {
    makePool();
    directory.activate(fnVersion('tight', 1, { maxInstances: 1, maxQueue: 1 }));
    const running = get(pool, 'tight', '/?ms=50');
    const queued = get(pool, 'tight', '/?ms=0');
    await expect(get(pool, 'tight')).rejects.toMatchObject({
      code: 'queue_full',
      status: 429,
      headers: { 'retry-after': '1' },
    });
    expect((await Promise.all([running, queued])).map(body)).toEqual(['v1', 'v1']);
  });

  it('runs a waiting request on the version active when it is placed', async () => {
    makePool();
    directory.activate(fnVersion('switch', 1, { maxInstances: 1 }));
    const running = get(pool, 'switch', '/hold');
    await until(() => launcher.started.some((c) => c.holding === 1));
    const queued = get(pool, 'switch');
    directory.activate(fnVersion('switch', 2, { maxInstances: 1 }));
    await pool.retire('switch', 2);
    const [v1] = await pool.list();
    containerOf(v1!.id).release();
    expect(body(await running)).toBe('v1');
    expect(body(await queued)).toBe('v2');
    expect((await pool.list()).map((i) => i.version)).toEqual([2]);
  });

  it('a version retired while its container starts serves nothing: the waiting request runs on the new version, the old container stops', async () => {
    makePool();
    directory.activate(fnVersion('rolling', 1));
    const held = gate();
    launcher.coldGate = held.wait;
    const inFlight = get(pool, 'rolling');
    await until(() => pool.pendingStarts('rolling') === 1);
    // The redeploy lands while v1's container is still starting.
    directory.activate(fnVersion('rolling', 2));
    await pool.retire('rolling', 2);
    launcher.coldGate = undefined;
    held.open();
    const answer = await inFlight;
    expect(body(answer)).toBe('v2');
    await until(() => launcher.started.length === 2);
    const v1Container = launcher.started.find((c) => c.version === 1)!;
    await v1Container.exited;
    expect(v1Container.stopRequested).toBe(true);
    expect((await pool.list()).map((i) => i.version)).toEqual([2]);
  });

  it('serves a version pinned by number or alias beside the active one; a deploy retires neither the active nor aliased', async () => {
    makePool();
    const [v1, v2, v3] = [1, 2, 3].map((n) => fnVersion('pinned', n));
    directory.add(v1!);
    directory.add(v2!);
    directory.activate(v3!);
    directory.aliases.set('pinned@prod', 1);
    expect(body(await get(pool, 'pinned'))).toBe('v3');
    expect(body(await get(pool, 'pinned@2'))).toBe('v2');
    expect(body(await get(pool, 'pinned@prod'))).toBe('v1');
    expect((await pool.list()).map((i) => i.version).sort()).toEqual([1, 2, 3]);
    // A new active version: v3 and the pinned-by-number v2 go, prod's v1 stays.
    const v4 = fnVersion('pinned', 4);
    await pool.prepare(v4);
    directory.activate(v4);
    await pool.retire('pinned', 4);
    expect((await pool.list()).map((i) => i.version).sort()).toEqual([1, 4]);
    expect((await get(pool, 'pinned@prod')).start).toBe('warm');
    await expect(get(pool, 'pinned@9')).rejects.toMatchObject({ code: 'version_not_found' });
  });

  it('removing a function while its instance starts leaves no instance behind', async () => {
    makePool();
    const held = gate();
    launcher.coldGate = held.wait;
    const preparing = pool.prepare(fnVersion('gone', 1));
    await until(() => pool.pendingStarts('gone') === 1);
    await pool.retire('gone');
    held.open();
    await preparing;
    expect(pool.pendingStarts()).toBe(0);
    expect(await pool.list()).toEqual([]);
    expect(launcher.started.every((c) => c.stopRequested)).toBe(true);
  });

  it('stops a busy instance only after its request (kiln stop)', async () => {
    makePool();
    directory.activate(fnVersion('busy', 1));
    const held = get(pool, 'busy', '/hold');
    await until(() => launcher.started.some((c) => c.holding === 1));
    const [instance] = await pool.list();
    await pool.stop(instance!.id);
    expect((await pool.list()).map((i) => i.state)).toEqual(['draining']);
    containerOf(instance!.id).release();
    expect(body(await held)).toBe('v1');
    expect(await pool.list()).toEqual([]);
    await expect(pool.stop(instance!.id)).rejects.toMatchObject({ code: 'instance_not_found', status: 404 });
  });

  it('drops an instance whose process died: 502 function_crashed, and the next request starts fresh', async () => {
    makePool();
    directory.activate(fnVersion('crashy', 1));
    const first = await get(pool, 'crashy');
    const dying = get(pool, 'crashy', '/hold');
    await until(async () => (await pool.list()).some((i) => i.state === 'busy'));
    containerOf(first.instanceId).crash(1);
    await expect(dying).rejects.toMatchObject({ code: 'function_crashed', status: 502 });
    const next = await get(pool, 'crashy');
    expect(next.instanceId).not.toBe(first.instanceId);
    expect(next.start).toBe('cold');
  });

  it('keeps minInstances running and reaps instances idle past idleTtlMs', async () => {
    makePool();
    const kept = fnVersion('kept', 1, { minInstances: 2 });
    const reaped = fnVersion('reaped', 1);
    // parseSpec's floor for idleTtlMs is 1 s; the pool itself takes any value.
    kept.spec.idleTtlMs = 20;
    reaped.spec.idleTtlMs = 20;
    directory.activate(kept);
    directory.activate(reaped);
    await get(pool, 'reaped');
    pool.startMaintenance(10);
    await until(async () => {
      const list = await pool.list();
      return (
        list.filter((i) => i.function === 'kept' && i.state === 'idle').length === 2 &&
        !list.some((i) => i.function === 'reaped')
      );
    });
    // Well past idleTtlMs, maintenance still keeps the two.
    await until(async () => (await pool.list()).every((i) => i.uptimeMs > 200));
    expect((await pool.list()).filter((i) => i.function === 'kept')).toHaveLength(2);
  });
});

describe('the scheduler', () => {
  it('64 concurrent requests on maxInstances 2 × concurrency 4: every one answered, 2 instances started', async () => {
    makePool();
    directory.activate(fnVersion('burst', 1, { maxInstances: 2, concurrency: 4, maxQueue: 100 }));
    const held = gate();
    launcher.coldGate = held.wait;
    const answers = Array.from({ length: 64 }, () => get(pool, 'burst', '/?ms=2'));
    await until(() => pool.pendingStarts('burst') === 2);
    held.open();
    expect((await Promise.all(answers)).map(body)).toEqual(Array(64).fill('v1'));
    expect(launcher.started).toHaveLength(2);
    expect(launcher.mostColdStarting).toBe(2);
  });

  it('requests waiting for a starting instance are served by it, not by new starts', async () => {
    makePool();
    directory.activate(fnVersion('patient', 1, { maxInstances: 8, concurrency: 4 }));
    const held = gate();
    launcher.coldGate = held.wait;
    const answers = Array.from({ length: 4 }, () => get(pool, 'patient'));
    await until(() => pool.pendingStarts('patient') === 1);
    held.open();
    const served = await Promise.all(answers);
    expect(new Set(served.map((a) => a.instanceId)).size).toBe(1);
    expect(launcher.events).toEqual(['cold patient@1']);
  });

  it('a failed start fails only the requests it was for; the others are served, and no container is left', async () => {
    makePool();
    directory.activate(fnVersion('shaky', 1, { maxInstances: 2, concurrency: 4 }));
    const held = gate();
    launcher.coldGate = held.wait;
    launcher.failColdStarts = 1;
    const settling = Promise.allSettled(Array.from({ length: 8 }, () => get(pool, 'shaky', '/?ms=2')));
    await until(() => pool.pendingStarts('shaky') === 2);
    held.open();
    const answers = await settling;
    const failed = answers.filter((a) => a.status === 'rejected');
    expect(failed).toHaveLength(4);
    for (const f of failed)
      expect((f as PromiseRejectedResult).reason).toMatchObject({ code: 'instance_start_failed' });
    expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(4);
    expect(launcher.started).toHaveLength(1);
    expect((await pool.list()).map((i) => i.state)).toEqual(['idle']);
  });

  it('a handler that fails to load fails each waiting request once, and stops every container it started', async () => {
    makePool();
    directory.activate(fnVersion('unloadable', 1, { maxInstances: 2, concurrency: 2 }, 'fail-init'));
    const answers = await Promise.allSettled(Array.from({ length: 6 }, () => get(pool, 'unloadable')));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill('rejected'));
    for (const a of answers)
      expect((a as PromiseRejectedResult).reason).toMatchObject({ code: 'handler_load_failed' });
    expect(await pool.list()).toEqual([]);
    expect(launcher.started.every((c) => c.stopRequested)).toBe(true);
  });

  it('a draining instance takes no new request: the next one starts its own', async () => {
    makePool();
    directory.activate(fnVersion('drain', 1, { concurrency: 4 }));
    const held = get(pool, 'drain', '/hold');
    await until(() => launcher.started.some((c) => c.holding === 1));
    const [first] = await pool.list();
    await pool.stop(first!.id);
    const next = await get(pool, 'drain');
    expect(next.instanceId).not.toBe(first!.id);
    containerOf(first!.id).release();
    await held;
  });
});

describe('start admission', () => {
  it('first requests to many functions at once start one container at a time under a bound of 1, and all are answered', async () => {
    makePool(0, new StartAdmission(1));
    const names = Array.from({ length: 6 }, (_, i) => `storm${i}`);
    for (const name of names) directory.activate(fnVersion(name, 1));
    const answers = await Promise.all(names.flatMap((name) => [get(pool, name), get(pool, name)]));
    expect(answers.map(body)).toEqual(Array(12).fill('v1'));
    expect(launcher.mostColdStarting).toBe(1);
  });

  it('a function removed while its start waits for admission never starts a container', async () => {
    makePool(0, new StartAdmission(1));
    directory.activate(fnVersion('first', 1));
    directory.activate(fnVersion('dropped', 1));
    const held = gate();
    launcher.coldGate = held.wait;
    const first = get(pool, 'first');
    const dropped = get(pool, 'dropped');
    await until(() => pool.pendingStarts() === 2);
    directory.remove('dropped');
    await pool.retire('dropped');
    await expect(dropped).rejects.toMatchObject({ code: 'function_not_found' });
    held.open();
    expect(body(await first)).toBe('v1');
    await until(() => pool.pendingStarts() === 0);
    expect(launcher.events).toEqual(['cold first@1']);
  });
});

describe('freezing idle instances', () => {
  const stateOf = async (id: string) => (await pool.list()).find((i) => i.id === id)?.state;

  it('freezes an instance idle past freezeAfterMs and thaws it for the next request, same instance, with a thaw phase', async () => {
    makePool(0, undefined, 10);
    directory.activate(fnVersion('sleepy', 1));
    const first = await get(pool, 'sleepy');
    await until(async () => (await stateOf(first.instanceId)) === 'frozen');
    await until(() => containerOf(first.instanceId).frozen);
    // The fake shim answers "frozen" (500) while its freezer says FROZEN.
    const second = await get(pool, 'sleepy');
    expect(body(second)).toBe('v1');
    expect(second.instanceId).toBe(first.instanceId);
    expect(second.start).toBe('warm');
    expect(Object.keys(second.timings)).toEqual(['queue', 'thaw', 'fn']);
    expect(containerOf(first.instanceId).frozen).toBe(false);
  });

  it('requests placed together on a frozen instance all wait for its one thaw', async () => {
    makePool(0, undefined, 10);
    directory.activate(fnVersion('crowd', 1, { maxInstances: 1, concurrency: 8 }));
    const first = await get(pool, 'crowd');
    await until(() => containerOf(first.instanceId).frozen);
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(pool, 'crowd')));
    expect(answers.map(body)).toEqual(Array(8).fill('v1'));
    expect(new Set(answers.map((a) => a.instanceId))).toEqual(new Set([first.instanceId]));
  });

  it('never freezes a busy instance, and thaws a frozen one before stopping it (kiln stop, reaping, shutdown)', async () => {
    makePool(0, undefined, 10);
    directory.activate(fnVersion('held', 1, { concurrency: 1 }));
    const holding = get(pool, 'held', '/hold');
    await until(() => launcher.started[0]?.holding === 1);
    const busy = launcher.started[0]!;
    await sleep(50);
    expect(busy.frozen).toBe(false);
    busy.release();
    const done = await holding;
    await until(() => busy.frozen);
    await pool.stop(done.instanceId);
    await busy.exited;
    expect(busy.stoppedFrozen).toBe(false);
    const again = await get(pool, 'held');
    await until(() => containerOf(again.instanceId).frozen);
    await pool.shutdown();
    expect(containerOf(again.instanceId).stoppedFrozen).toBe(false);
  });
});

describe('maintenance', () => {
  it('never overlaps itself: a minInstances start slower than the interval is not started twice', async () => {
    makePool();
    directory.activate(fnVersion('steady', 1, { minInstances: 1 }));
    const held = gate();
    launcher.coldGate = held.wait;
    pool.startMaintenance(5);
    await until(() => launcher.events.length === 1);
    // Twenty intervals pass while the start is held.
    await sleep(100);
    expect(launcher.events).toEqual(['cold steady@1']);
    held.open();
    await until(async () => (await pool.list()).some((i) => i.state === 'idle'));
    expect(launcher.started).toHaveLength(1);
  });
});

describe('WarmPool.acquire', () => {
  it('holds the queue slot from acquire until release, and a second release changes nothing', async () => {
    makePool();
    directory.activate(fnVersion('leased', 1, { maxInstances: 1, concurrency: 1, maxQueue: 1 }));
    const lease = await pool.acquire('leased');
    expect(lease).toMatchObject({ start: 'cold', prewarmed: false, version: 1 });
    expect(Object.keys(lease.timings)).toEqual(['queue', 'mount', 'runtime', 'ready', 'init']);
    let secondPlaced = false;
    const second = pool.acquire('leased').then((l) => {
      secondPlaced = true;
      return l;
    });
    await expect(pool.acquire('leased')).rejects.toMatchObject({ code: 'queue_full', status: 429 });
    await sleep(20);
    expect(secondPlaced).toBe(false);
    lease.release('ok');
    lease.release('ok');
    const next = await second;
    expect(next.instance.id).toBe(lease.instance.id);
    expect(next.start).toBe('warm');
    expect((await pool.list()).map((i) => [i.state, i.requests])).toEqual([['busy', 2]]);
    next.release('ok');
    expect((await pool.list()).map((i) => i.state)).toEqual(['idle']);
  });

  it("release('broken') removes the instance and stops its container; the next request starts fresh", async () => {
    makePool();
    directory.activate(fnVersion('fragile', 1));
    const lease = await pool.acquire('fragile');
    lease.release('broken');
    expect(await pool.list()).toEqual([]);
    const container = containerOf(lease.instance.id);
    await container.exited;
    expect(container.stopRequested).toBe(true);
    const next = await pool.acquire('fragile');
    expect(next.instance.id).not.toBe(lease.instance.id);
    next.release('ok');
  });

  it('says warm and prewarmed for the first request of an instance a deploy started, without its start phases', async () => {
    makePool();
    const v1 = fnVersion('ahead', 1);
    await pool.prepare(v1);
    directory.activate(v1);
    const first = await pool.acquire('ahead');
    first.release('ok');
    const second = await pool.acquire('ahead');
    second.release('ok');
    expect([first.prewarmed, second.prewarmed]).toEqual([true, false]);
    // It was warm when the first request came: neither says how it started, nor its phases.
    expect([first.start, second.start]).toEqual(['warm', 'warm']);
    expect(Object.keys(first.timings)).toEqual(['queue']);
    expect(second.instance.id).toBe(first.instance.id);
  });

  it('frees the queue slot when placing fails', async () => {
    makePool();
    directory.activate(
      fnVersion('unloadable', 1, { maxInstances: 1, concurrency: 1, maxQueue: 0 }, 'fail-init'),
    );
    await expect(pool.acquire('unloadable')).rejects.toMatchObject({ code: 'handler_load_failed' });
    await expect(pool.acquire('unloadable')).rejects.toMatchObject({ code: 'handler_load_failed' });
  });
});

describe('stem cells', () => {
  it('specializes a ready stem cell for the first request, never gives it back, and refills', async () => {
    makePool(1);
    const v1 = fnVersion('stemmed', 1);
    directory.activate(v1);
    pool.stemCells.want('node');
    await pool.stemCells.whenFull();
    const [cell] = await pool.stemCells.list();
    const first = await get(pool, 'stemmed');
    expect(first.start).toBe('stem');
    expect(first.instanceId).toBe(cell!.id);
    expect(Object.keys(first.timings)).toEqual(['queue', 'specialize', 'init', 'fn']);
    expect(launcher.events).toEqual([`specialize ${cell!.id} for stemmed@1`]);
    await pool.stemCells.whenFull();
    const refilled = await pool.stemCells.list();
    expect(refilled).toHaveLength(1);
    expect(refilled[0]!.id).not.toBe(cell!.id);
    expect((await pool.list()).map((i) => [i.id, i.startedAs])).toEqual([[cell!.id, 'stem']]);
  });

  it('stops a stem cell whose specialization fails and starts the request cold instead', async () => {
    makePool(1);
    directory.activate(fnVersion('fallback', 1));
    pool.stemCells.want('node');
    await pool.stemCells.whenFull();
    const [cell] = await pool.stemCells.list();
    launcher.failSpecialize = true;
    const answer = await get(pool, 'fallback');
    expect(answer.start).toBe('cold');
    expect(body(answer)).toBe('v1');
    const failed = containerOf(cell!.id);
    expect(failed.stopRequested).toBe(true);
    await failed.exited;
    expect((await pool.list()).map((i) => i.id)).toEqual([answer.instanceId]);
    expect((await pool.stemCells.list()).map((c) => c.id)).not.toContain(cell!.id);
    expect(logged.join('\n')).toMatch(
      /specializing stem cell .* failed, starting cold instead: the cgroup refused/,
    );
  });

  it('whenFull fails loudly when the cells do not become ready in time', async () => {
    makePool(2);
    const held = gate();
    launcher.stemGate = held.wait;
    pool.stemCells.want('node');
    await expect(pool.stemCells.whenFull(50)).rejects.toMatchObject({
      code: 'stem_cells_not_ready',
      message: expect.stringContaining('node 0/2'),
    });
    held.open();
    await pool.stemCells.whenFull();
  });
});
