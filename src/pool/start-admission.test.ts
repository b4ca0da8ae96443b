import { describe, expect, it } from 'vitest';
import { gate } from '../../test/fakes/fake-launcher.js';
import { defaultStartLimit, StartAdmission } from './start-admission.js';

describe('StartAdmission', () => {
  it('runs at most `limit` starts at once; the rest run in order as slots free, request starts first', async () => {
    const starts = new StartAdmission(2);
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const gates = new Map<string, ReturnType<typeof gate>>();
    const start = (name: string, priority: 'request' | 'background') => {
      const g = gate();
      gates.set(name, g);
      return starts.run(async () => {
        order.push(name);
        running++;
        most = Math.max(most, running);
        await g.wait;
        running--;
        return name;
      }, priority);
    };
    const all = [
      start('a', 'request'),
      start('b', 'request'),
      start('refill', 'background'),
      start('c', 'request'),
      start('d', 'request'),
    ];
    expect(starts.counts).toEqual({ running: 2, waiting: 3 });
    for (const name of ['a', 'b', 'c', 'd', 'refill']) {
      while (!gates.has(name) || !order.includes(name)) await new Promise((r) => setImmediate(r));
      gates.get(name)!.open();
    }
    expect(await Promise.all(all)).toEqual(['a', 'b', 'refill', 'c', 'd']);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'refill']);
    expect(most).toBe(2);
    expect(starts.counts).toEqual({ running: 0, waiting: 0 });
  });

  it('frees the slot when a start fails, and the failure goes to its caller only', async () => {
    const starts = new StartAdmission(1);
    const failing = starts.run(async () => {
      throw new Error('no container');
    });
    const next = starts.run(async () => 'ok');
    await expect(failing).rejects.toThrow('no container');
    expect(await next).toBe('ok');
    expect(starts.counts).toEqual({ running: 0, waiting: 0 });
  });

  it('refuses a start with 503 start_queue_full and Retry-After past maxWaiting', async () => {
    const starts = new StartAdmission(1, 1);
    const held = gate();
    const first = starts.run(() => held.wait);
    const second = starts.run(async () => undefined);
    await expect(starts.run(async () => undefined)).rejects.toMatchObject({
      code: 'start_queue_full',
      status: 503,
      headers: { 'retry-after': '1' },
    });
    held.open();
    await Promise.all([first, second]);
  });

  it('scales with the cores, at least 2, and KILN_MAX_STARTS overrides it', () => {
    expect(defaultStartLimit(1, undefined)).toBe(2);
    expect(defaultStartLimit(2, undefined)).toBe(4);
    expect(defaultStartLimit(16, undefined)).toBe(32);
    expect(defaultStartLimit(2, '3')).toBe(3);
    expect(() => defaultStartLimit(2, 'many')).toThrow(/KILN_MAX_STARTS/);
  });
});
