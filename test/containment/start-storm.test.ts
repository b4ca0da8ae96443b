import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, FIXTURES, startTestGateway, type TestGateway, untrackedContainers } from '../harness.js';

/**
 * Issue 8 item 7: nothing limited concurrent container starts, so 200 first requests over 20
 * fresh functions started up to 113 containers at once and 153 of them were answered 502
 * `instance_start_failed` (their shims missed the readiness deadline on a loaded host). Now
 * every start on the host waits its turn in `StartAdmission`: the storm is answered 200, and
 * the starts that ran at once never exceeded the bound.
 */
const FUNCTIONS = 20;
const PER_FUNCTION = 10;
let t: TestGateway;

const names = Array.from({ length: FUNCTIONS }, (_, i) => `storm-${i}`);

beforeAll(async () => {
  t = await startTestGateway({ stemCells: 0 });
  for (const name of names) {
    // maxInstances 5: up to 100 starts wanted at once (the report saw 113), each alone fast.
    const deployed = await deployDir(t.url, path.join(FIXTURES, 'slow'), {
      name,
      runtime: 'node',
      maxInstances: '5',
    });
    expect(deployed.status).toBe(201);
  }
});
afterAll(() => t?.close());

async function instanceIds(): Promise<{ id: string; function: string }[]> {
  const { instances } = (await (await fetch(`${t.url}/instances`)).json()) as {
    instances: { id: string; function: string }[];
  };
  return instances;
}

describe('a storm of first requests over many functions', () => {
  it(`${FUNCTIONS * PER_FUNCTION} first requests over ${FUNCTIONS} functions at zero: every one 200, never more starts at once than the bound, no container left over`, async () => {
    // Every deploy left its trial instance: stop them all, so every request below is a first.
    for (const instance of await instanceIds())
      await fetch(`${t.url}/instances/${instance.id}`, { method: 'DELETE' });
    expect(await instanceIds()).toEqual([]);

    const { limit } = t.kiln.pool.startAdmission();
    let mostRunning = 0;
    let mostWaiting = 0;
    let done = false;
    const watching = (async () => {
      while (!done) {
        const { running, waiting } = t.kiln.pool.startAdmission();
        mostRunning = Math.max(mostRunning, running);
        mostWaiting = Math.max(mostWaiting, waiting);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const answers = await Promise.all(
      names.flatMap((name) =>
        Array.from({ length: PER_FUNCTION }, async () => {
          const res = await fetch(`${t.url}/fn/${name}/?ms=200`);
          return { status: res.status, body: await res.text() };
        }),
      ),
    );
    done = true;
    await watching;

    const failed = answers.filter((a) => a.status !== 200);
    expect(failed).toEqual([]);
    expect(answers.every((a) => a.body === 'slept 200\n')).toBe(true);
    expect(mostRunning).toBeGreaterThan(0);
    expect(mostRunning).toBeLessThanOrEqual(limit);
    // The storm did have to queue: more starts were wanted than the bound lets run.
    expect(mostWaiting).toBeGreaterThan(0);
    const perFunction = new Map<string, number>();
    for (const i of await instanceIds()) perFunction.set(i.function, (perFunction.get(i.function) ?? 0) + 1);
    expect(Math.max(...perFunction.values())).toBeLessThanOrEqual(5);
    expect(t.kiln.pool.pendingStarts()).toBe(0);
    expect(await untrackedContainers(t)).toEqual([]);
  }, 300_000);
});
