import { describe, expect, it } from 'vitest';
import { runInDependencyOrder } from './stack-order.js';

/** Tasks that log when they start and end, and end when the test releases them. */
function harness() {
  const log: string[] = [];
  const gates = new Map<string, (ok: boolean) => void>();
  const task = (name: string, dependsOn: string[] = []) => ({
    name,
    dependsOn,
    run: () =>
      new Promise<boolean>((resolve) => {
        log.push(`start ${name}`);
        gates.set(name, (ok) => {
          log.push(`end ${name}`);
          resolve(ok);
        });
      }),
  });
  const release = async (name: string, ok = true) => {
    // Let the runner reach the task first (it starts on a later turn of the event loop).
    for (let i = 0; i < 20 && !gates.has(name); i++) await new Promise((r) => setImmediate(r));
    gates.get(name)!(ok);
  };
  return { log, task, release };
}

describe('runInDependencyOrder', () => {
  it('starts a task after its dependencies ended, the rest at once up to the limit', async () => {
    const { log, task, release } = harness();
    const skipped: string[] = [];
    const done = runInDependencyOrder([task('api', ['quote', 'receipts']), task('quote'), task('receipts')], {
      concurrency: 3,
      onSkip: (name) => skipped.push(name),
    });
    await release('quote');
    await release('receipts');
    await release('api');
    expect(await done).toEqual(
      new Map([
        ['api', true],
        ['quote', true],
        ['receipts', true],
      ]),
    );
    expect(log).toEqual([
      'start quote',
      'start receipts',
      'end quote',
      'end receipts',
      'start api',
      'end api',
    ]);
    expect(skipped).toEqual([]);
  });

  it('skips what depends on a failed task, and what depends on a skipped one', async () => {
    const { log, task, release } = harness();
    const skipped: string[] = [];
    const done = runInDependencyOrder([task('c', ['b']), task('b', ['a']), task('a'), task('free')], {
      concurrency: 2,
      onSkip: (name, failed) => skipped.push(`${name} (${failed.join(', ')})`),
    });
    await release('a', false);
    await release('free');
    expect(await done).toEqual(
      new Map([
        ['c', false],
        ['b', false],
        ['a', false],
        ['free', true],
      ]),
    );
    expect(skipped).toEqual(['b (a)', 'c (b)']);
    expect(log.filter((l) => l.startsWith('start'))).toEqual(['start a', 'start free']);
  });

  it('never runs more than the limit at once', async () => {
    const { log, task, release } = harness();
    const done = runInDependencyOrder([task('a'), task('b'), task('c')], {
      concurrency: 2,
      onSkip: () => {},
    });
    await release('a');
    expect(log.slice(0, 3)).toEqual(['start a', 'start b', 'end a']);
    await release('b');
    await release('c');
    await done;
    expect(log).toContain('start c');
    expect(log.indexOf('start c')).toBeGreaterThan(log.indexOf('end a'));
  });
});
