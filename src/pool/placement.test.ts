import { describe, expect, it } from 'vitest';
import { type InstanceState, type PlacedInstance, type PlacementInput, place } from './placement.js';

const spec = { maxInstances: 2, concurrency: 4 };
const at = (state: InstanceState, inflight = 0, id = `${state}-${inflight}`): PlacedInstance => ({
  id,
  state,
  inflight,
});
const input = (instances: PlacedInstance[], waiting = 1, s = spec): PlacementInput => ({
  instances,
  waiting,
  ...s,
});

/**
 * A burst as the pool lives it, over the pure decision only: `waiting` requests arrive at
 * once; the line is placed until `wait`; then, one event at a time, a start finishes or a
 * request ends, and the line is placed again. Returns the most instances that ever existed.
 */
function burst(waiting: number, maxInstances: number, concurrency: number, order: number[]): number {
  const instances: PlacedInstance[] = [];
  let most = 0;
  let served = 0;
  let next = 0;
  const drain = () => {
    for (;;) {
      const decision = place({ instances, maxInstances, concurrency, waiting });
      if (decision.kind === 'wait' || waiting === 0) return;
      if (decision.kind === 'start') instances.push({ id: `i${next++}`, state: 'starting', inflight: 0 });
      else {
        const chosen = instances.find((i) => i.id === decision.id)!;
        chosen.inflight++;
        chosen.state = 'busy';
        waiting--;
      }
      most = Math.max(most, instances.length);
    }
  };
  drain();
  for (let step = 0; waiting > 0 || instances.some((i) => i.inflight > 0); step++) {
    if (step > 10_000) throw new Error('the burst never finished');
    // The event: a start finishes, or a request on a busy instance ends; `order` picks which.
    const events = instances.filter((i) => i.state === 'starting' || i.inflight > 0);
    const target = events[order[step % order.length]! % events.length]!;
    if (target.state === 'starting') target.state = 'idle';
    else {
      target.inflight--;
      served++;
      if (target.inflight === 0) target.state = 'idle';
    }
    drain();
  }
  expect(served).toBeGreaterThan(0);
  return most;
}

describe('place', () => {
  it('uses an instance with a free slot: the fullest (packing), a frozen one last', () => {
    expect(place(input([at('busy', 1), at('busy', 3, 'fullest'), at('idle', 0, 'calm')]))).toEqual({
      kind: 'use',
      id: 'fullest',
    });
    // Full is full: the next fullest with a slot.
    expect(place(input([at('busy', 4), at('idle', 0, 'calm'), at('busy', 2, 'half')]))).toEqual({
      kind: 'use',
      id: 'half',
    });
    expect(place(input([at('frozen', 0, 'cold'), at('busy', 3, 'warm')]))).toEqual({
      kind: 'use',
      id: 'warm',
    });
    expect(place(input([at('frozen', 0, 'cold'), at('busy', 4)]))).toEqual({ kind: 'use', id: 'cold' });
  });

  it('never places on a draining or gone instance, however idle', () => {
    const decision = place(
      input([at('draining', 0), at('gone', 0), at('busy', 4)], 1, { maxInstances: 1, concurrency: 4 }),
    );
    expect(decision).toEqual({ kind: 'wait' });
    expect(place(input([at('draining', 0), at('gone', 0)]))).toEqual({ kind: 'start' });
  });

  it('waits for a starting instance while its future slots cover the waiting requests', () => {
    expect(place(input([at('starting')], 4))).toEqual({ kind: 'wait' });
    expect(place(input([at('starting')], 5))).toEqual({ kind: 'start' });
    expect(place(input([at('starting'), at('starting', 0, 'b')], 8))).toEqual({ kind: 'wait' });
  });

  it('counts starting instances toward maxInstances', () => {
    expect(place(input([at('starting'), at('starting', 0, 'b')], 64))).toEqual({ kind: 'wait' });
    expect(place(input([at('starting'), at('busy', 4)], 64))).toEqual({ kind: 'wait' });
    expect(place(input([at('busy', 4)], 1, { maxInstances: 1, concurrency: 4 }))).toEqual({ kind: 'wait' });
  });

  it('a burst of 64 on maxInstances 2 × concurrency 4 starts 2 instances, whatever order events come in', () => {
    for (const order of [[0], [1], [2, 0, 1], [3, 1, 4, 1, 5, 9, 2, 6]]) {
      expect(burst(64, 2, 4, order)).toBe(2);
    }
  });

  it('bursts never exceed maxInstances, and start no more than the waiting work needs', () => {
    for (const maxInstances of [1, 2, 3, 8]) {
      for (const concurrency of [1, 2, 4, 16]) {
        for (const waiting of [1, 3, 7, 64, 200]) {
          const most = burst(waiting, maxInstances, concurrency, [2, 7, 1, 8]);
          expect(most).toBeLessThanOrEqual(maxInstances);
          expect(most).toBeLessThanOrEqual(Math.ceil(waiting / concurrency));
        }
      }
    }
  });

  it('after a failed start (its instance is gone from the list), the next waiting request may start again', () => {
    expect(place(input([at('busy', 4)], 3))).toEqual({ kind: 'start' });
  });
});
