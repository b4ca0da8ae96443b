import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceInfo } from '../../src/pool/warm-pool.js';
import { deployDir, FIXTURES, startTestGateway, type TestGateway, untrackedContainers } from '../harness.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

async function instancesOf(url: string, name: string): Promise<InstanceInfo[]> {
  const { instances } = (await (await fetch(`${url}/instances`)).json()) as { instances: InstanceInfo[] };
  return instances.filter((i) => i.function === name);
}

/** Poll until `check` holds: waiting for an eventual state, not timing it. */
async function eventually(check: () => Promise<boolean>, limitMs = 20_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await sleep(everyMs);
  }
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe('faults', () => {
  beforeAll(async () => {
    expect((await deployDir(t.url, path.join(FIXTURES, 'faults'))).status).toBe(201);
  });

  it("a handler that throws gets API Gateway's 500, handler_error in a header, and its instance keeps serving", async () => {
    const ok = await fetch(`${t.url}/fn/faults/`);
    const thrown = await fetch(`${t.url}/fn/faults/throw`);
    expect(thrown.status).toBe(500);
    expect(await thrown.text()).toBe('{"message":"Internal Server Error"}');
    expect(thrown.headers.get('x-kiln-error')).toBe('handler_error');
    const after = await fetch(`${t.url}/fn/faults/`);
    expect(after.status).toBe(200);
    expect(after.headers.get('x-kiln-instance')).toBe(ok.headers.get('x-kiln-instance'));
    expect(after.headers.get('x-kiln-instance')).toBe(thrown.headers.get('x-kiln-instance'));
  });

  it('a request past timeoutMs gets 504 timeout and its instance is destroyed', async () => {
    const before = (await fetch(`${t.url}/fn/faults/`)).headers.get('x-kiln-instance');
    const slow = await fetch(`${t.url}/fn/faults/sleep?ms=5000`);
    expect(slow.status).toBe(504);
    expect(await errorCode(slow)).toBe('timeout');
    expect((await instancesOf(t.url, 'faults')).map((i) => i.id)).not.toContain(before);
    const next = await fetch(`${t.url}/fn/faults/`);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-kiln-instance')).not.toBe(before);
  });

  it('a handler that exits its process gets 502 function_crashed and the next request a fresh instance', async () => {
    const before = (await fetch(`${t.url}/fn/faults/`)).headers.get('x-kiln-instance');
    const crashed = await fetch(`${t.url}/fn/faults/exit`);
    expect(crashed.status).toBe(502);
    expect(await errorCode(crashed)).toBe('function_crashed');
    const next = await fetch(`${t.url}/fn/faults/`);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-kiln-start')).toBe('cold');
    expect(next.headers.get('x-kiln-instance')).not.toBe(before);
  });

  it('a handler that allocates past memoryMb gets 502 out_of_memory', async () => {
    const hog = await fetch(`${t.url}/fn/faults/hog`);
    expect(hog.status).toBe(502);
    expect(await errorCode(hog)).toBe('out_of_memory');
    expect((await fetch(`${t.url}/fn/faults/`)).status).toBe(200);
  });
});

describe('queueing', () => {
  async function burst(name: string, n: number): Promise<Response[]> {
    return Promise.all(Array.from({ length: n }, () => fetch(`${t.url}/fn/${name}/?ms=100`)));
  }

  it('200 concurrent requests to maxInstances 4, maxQueue 300: every one gets 200, from at most 4 instances', async () => {
    const deployed = await deployDir(t.url, path.join(FIXTURES, 'slow'), {
      name: 'burst',
      runtime: 'node',
      maxInstances: '4',
      maxQueue: '300',
    });
    expect(deployed.status).toBe(201);
    const answers = await burst('burst', 200);
    expect(answers.map((r) => r.status)).toEqual(Array(200).fill(200));
    const served = new Set(answers.map((r) => r.headers.get('x-kiln-instance')));
    expect(served.size).toBeLessThanOrEqual(4);
    expect((await instancesOf(t.url, 'burst')).length).toBeLessThanOrEqual(4);
  });

  it('with maxQueue 10 the surplus gets 429 queue_full with Retry-After, and every request exactly one answer', async () => {
    await deployDir(t.url, path.join(FIXTURES, 'slow'), {
      name: 'tight',
      runtime: 'node',
      maxInstances: '4',
      maxQueue: '10',
    });
    const answers = await burst('tight', 200);
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(200);
    expect(ok.length).toBeGreaterThanOrEqual(14);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]?.headers.get('retry-after')).toBe('1');
    expect(await errorCode(refused[0]!)).toBe('queue_full');
  });
});

describe('a burst on a function scaled to zero', () => {
  /** Deploy `slow` with maxInstances 2 × concurrency 4, then stop the deploy's instance: zero left. */
  async function deployAtZero(name: string, extra: Record<string, string> = {}): Promise<void> {
    const deployed = await deployDir(t.url, path.join(FIXTURES, 'slow'), {
      name,
      runtime: 'node',
      maxInstances: '2',
      concurrency: '4',
      ...extra,
    });
    expect(deployed.status).toBe(201);
    for (const i of await instancesOf(t.url, name))
      await fetch(`${t.url}/instances/${i.id}`, { method: 'DELETE' });
    await eventually(async () => (await instancesOf(t.url, name)).length === 0);
  }

  /** Fire `n` requests at once; poll `GET /instances` until they are all answered, and once after. */
  async function burstWatched(name: string, n: number): Promise<{ answers: Response[]; most: number }> {
    let most = 0;
    let done = false;
    const watching = (async () => {
      while (!done) {
        most = Math.max(most, (await instancesOf(t.url, name)).length);
        await sleep(20);
      }
    })();
    const answers = await Promise.all(Array.from({ length: n }, () => fetch(`${t.url}/fn/${name}/?ms=50`)));
    done = true;
    await watching;
    most = Math.max(most, (await instancesOf(t.url, name)).length);
    return { answers, most };
  }

  it('64 concurrent first requests to maxInstances 2 × concurrency 4: all 200, never more than 2 instances', async () => {
    await deployAtZero('zero-burst');
    const { answers, most } = await burstWatched('zero-burst', 64);
    expect(answers.map((r) => r.status)).toEqual(Array(64).fill(200));
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    expect(new Set(answers.map((r) => r.headers.get('x-kiln-instance'))).size).toBeLessThanOrEqual(2);
    const ids = new Set(answers.map((r) => r.headers.get('x-kiln-request-id')));
    expect(ids.size).toBe(64);
  });

  it('the same with maxQueue 4: only 200 and 429, each request answered exactly once, never more than 2 instances', async () => {
    await deployAtZero('zero-tight', { maxQueue: '4' });
    const { answers, most } = await burstWatched('zero-tight', 64);
    const statuses = answers.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    // 2 × 4 placed (or waiting for their instance) and 4 in the queue are admitted at once.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(12);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    const bodies = await Promise.all(answers.map((r) => r.text()));
    expect(bodies.filter((b) => b === 'slept 50\n')).toHaveLength(statuses.filter((s) => s === 200).length);
  });
});

describe('scale', () => {
  it('reaps instances idle past idleTtlMs back to minInstances 0', async () => {
    await deployDir(t.url, path.join(FIXTURES, 'hello-v2'), {
      name: 'reaped',
      runtime: 'node',
      idleTtlMs: '1000',
    });
    expect((await fetch(`${t.url}/fn/reaped/`)).status).toBe(200);
    await eventually(async () => (await instancesOf(t.url, 'reaped')).length === 0);
    const again = await fetch(`${t.url}/fn/reaped/`);
    expect(again.headers.get('x-kiln-start')).toBe('cold');
  });

  it('keeps minInstances running through idleTtlMs and replaces one that dies', async () => {
    await deployDir(t.url, path.join(FIXTURES, 'faults'), {
      name: 'kept',
      minInstances: '2',
      idleTtlMs: '1000',
    });
    await eventually(async () => (await instancesOf(t.url, 'kept')).length === 2);
    const ids = (await instancesOf(t.url, 'kept')).map((i) => i.id).sort();
    // Idle for idleTtlMs plus a maintenance interval (1 s): maintenance has looked at them
    // since they passed idleTtlMs, and kept the very same two (not reaped and replaced).
    await eventually(async () => (await instancesOf(t.url, 'kept')).every((i) => i.uptimeMs > 2200));
    expect((await instancesOf(t.url, 'kept')).map((i) => i.id).sort()).toEqual(ids);
    expect((await fetch(`${t.url}/fn/kept/exit`)).status).toBe(502);
    await eventually(
      async () =>
        (await instancesOf(t.url, 'kept')).filter((i) => i.state === 'idle' || i.state === 'frozen')
          .length === 2,
    );
  });

  it('removing a function while its instances are starting leaves none behind', async () => {
    await deployDir(t.url, path.join(FIXTURES, 'hello-v2'), {
      name: 'gone',
      runtime: 'node',
      minInstances: '3',
    });
    // Maintenance starts the other two; delete the function while one is starting.
    await eventually(async () => t.kiln.pool.pendingStarts('gone') > 0, 20_000, 5);
    expect((await fetch(`${t.url}/functions/gone`, { method: 'DELETE' })).status).toBe(200);
    // Once no start for it is in flight, none can appear later: the function is gone.
    await eventually(async () => t.kiln.pool.pendingStarts('gone') === 0);
    expect(await instancesOf(t.url, 'gone')).toEqual([]);
    expect(await untrackedContainers(t)).toEqual([]);
  });

  it('a redeploy under load: no request fails, and after it every response is the new version', async () => {
    await deployDir(t.url, path.join(FIXTURES, 'slow'), {
      name: 'rolling',
      runtime: 'node',
      maxInstances: '3',
    });
    let stop = false;
    const seen: { status: number; version: string | null; sentAt: number }[] = [];
    const client = async () => {
      while (!stop) {
        const sentAt = Date.now();
        const res = await fetch(`${t.url}/fn/rolling/?ms=20`);
        await res.arrayBuffer();
        seen.push({ status: res.status, version: res.headers.get('x-kiln-version'), sentAt });
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await eventually(async () => seen.length >= 10, 20_000, 10);
    const redeployed = await deployDir(t.url, path.join(FIXTURES, 'hello-v2'), {
      name: 'rolling',
      runtime: 'node',
    });
    const doneAt = Date.now();
    expect(redeployed.status).toBe(201);
    await eventually(async () => seen.filter((s) => s.sentAt > doneAt).length >= 20, 20_000, 10);
    stop = true;
    await Promise.all(clients);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    // The guarantee: a request sent after the deploy returned is served by the new
    // version. One sent before may still be served by the old one, even after the deploy
    // returned (its turn came before the switch: it finishes on v1, on a v1 instance it
    // may have had to start).
    const after = seen.filter((s) => s.sentAt > doneAt);
    expect(new Set(after.map((s) => s.version))).toEqual(new Set(['2']));
    expect(seen.filter((s) => s.sentAt < doneAt).map((s) => s.version)).toContain('1');
    // And no v1 instance outlives its last request, even one started during the switch.
    expect((await instancesOf(t.url, 'rolling')).map((i) => i.version)).not.toContain(1);
    // The last v1 instances were removed as their requests ended; their containers may still
    // be exiting on a loaded host, and must then be gone.
    await eventually(async () => (await untrackedContainers(t)).length === 0);
  });
});

describe('stem cells', () => {
  let s: TestGateway;
  beforeAll(async () => {
    s = await startTestGateway({ stemCells: 2 });
  });
  afterAll(() => s?.close());

  let stemmedId: string | null = null;

  it('a request that finds no instance takes a stem cell (stem, with its specialize phases), the next is warm, and the pool refills', async () => {
    // The first deploy of a language asks for its stem cells; wait until they are ready.
    await deployDir(s.url, path.join(FIXTURES, 'hello-v2'), { name: 'first', runtime: 'node' });
    await s.kiln.pool.stemCells.whenFull();
    const deployed = await deployDir(s.url, path.join(FIXTURES, 'probe'), {
      name: 'stemmed',
      runtime: 'node',
      memoryMb: '80',
    });
    expect(deployed.status).toBe(201);
    // The deploy's own start took a stem cell: stop it, so that a request starts one itself.
    for (const i of await instancesOf(s.url, 'stemmed'))
      await fetch(`${s.url}/instances/${i.id}`, { method: 'DELETE' });
    await eventually(async () => (await instancesOf(s.url, 'stemmed')).length === 0);
    await s.kiln.pool.stemCells.whenFull();
    const first = await fetch(`${s.url}/fn/stemmed/`);
    expect(first.headers.get('x-kiln-start')).toBe('stem');
    expect(first.headers.get('x-kiln-prewarmed')).toBeNull();
    stemmedId = first.headers.get('x-kiln-instance');
    expect(first.headers.get('server-timing')).toMatch(
      /^queue;dur=[\d.]+, specialize;dur=[\d.]+, init;dur=[\d.]+, fn;dur=[\d.]+$/,
    );
    const probe = (await first.json()) as { memoryLimit: string; pid: number };
    // Specialization gave the generic cell this function's own limit.
    expect(Number(probe.memoryLimit)).toBe(80 * 1024 * 1024);
    expect(probe.pid).toBeLessThan(10);
    const second = await fetch(`${s.url}/fn/stemmed/`);
    expect(second.headers.get('x-kiln-start')).toBe('warm');
    expect(second.headers.get('x-kiln-instance')).toBe(first.headers.get('x-kiln-instance'));
    await s.kiln.pool.stemCells.whenFull();
    const { stemCells } = (await (await fetch(`${s.url}/instances`)).json()) as {
      stemCells: { language: string }[];
    };
    expect(stemCells.map((c) => c.language)).toEqual(['node', 'node']);
  });

  it('a specialized stem cell never returns to the generic pool', async () => {
    await s.kiln.pool.stemCells.whenFull();
    const { stemCells } = (await (await fetch(`${s.url}/instances`)).json()) as {
      stemCells: { id: string }[];
    };
    const instances = await instancesOf(s.url, 'stemmed');
    expect(stemmedId).toMatch(/^k/);
    // It serves its function, as a stem-started instance, and is not among the ready cells.
    expect(instances.map((i) => [i.id, i.startedAs])).toEqual([[stemmedId, 'stem']]);
    expect(stemCells).toHaveLength(2);
    expect(stemCells.map((c) => c.id)).not.toContain(stemmedId);
  });
});
