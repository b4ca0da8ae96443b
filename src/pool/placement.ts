/**
 * Where a function's next waiting request goes (issue 9, docs/ARCHITECTURE.md "The
 * scheduler"), decided over plain data so that every rule has a unit test without
 * containers. The pool calls it for the request at the head of the function's wait line,
 * again and again, until the answer is `wait`:
 *
 *   use    an instance of the active version that can take work (idle, busy or frozen) and
 *          has a free slot (`inflight < concurrency`); the fullest of them, a frozen one last
 *          (it must be thawed first): requests are packed, not spread (see `rank`);
 *   start  a new instance, only if `live + starting < maxInstances` and the requests waiting
 *          exceed what the instances already starting will absorb (`starting × concurrency`):
 *          a starting instance counts toward `maxInstances` and its future slots are waited on;
 *   wait   for the first slot to free or a start to finish; the wait line is FIFO.
 *
 * Draining and gone instances never take work and do not count toward `maxInstances` (they
 * are on their way out; counting them could hold requests behind a slow drain).
 */
export type InstanceState = 'starting' | 'idle' | 'busy' | 'frozen' | 'draining' | 'gone';

export interface PlacedInstance {
  id: string;
  state: InstanceState;
  inflight: number;
}

export interface PlacementInput {
  /** The active version's instances, starts in flight included (state `starting`). */
  instances: readonly PlacedInstance[];
  maxInstances: number;
  concurrency: number;
  /** Requests waiting for an instance, the one being placed included (≥ 1). */
  waiting: number;
}

export type Placement = { kind: 'use'; id: string } | { kind: 'start' } | { kind: 'wait' };

const TAKES_WORK: ReadonlySet<InstanceState> = new Set(['idle', 'busy', 'frozen']);

export function place(input: PlacementInput): Placement {
  const { instances, maxInstances, concurrency, waiting } = input;
  let best: PlacedInstance | undefined;
  for (const instance of instances) {
    if (!TAKES_WORK.has(instance.state) || instance.inflight >= concurrency) continue;
    if (!best || rank(instance) < rank(best)) best = instance;
  }
  if (best) return { kind: 'use', id: best.id };
  const starting = instances.filter((i) => i.state === 'starting').length;
  const live = instances.filter((i) => TAKES_WORK.has(i.state)).length;
  if (live + starting < maxInstances && waiting > starting * concurrency) return { kind: 'start' };
  return { kind: 'wait' };
}

/**
 * Lower is better: a thawed instance before a frozen one, then the most requests in flight.
 * Packing, as Knative's activator does for small container concurrency ("first available")
 * and OpenWhisk does per invoker: an instance's requests in flight share its event loop's
 * wakeups (the node shim answers what one turn produced in one write), and the instances
 * left without work freeze and are reaped. Spreading 8 connections over 4 instances of
 * concurrency 8 cost each shim ~270 µs of CPU per request against ~90 µs with all 8 on one
 * (this 2-vCPU VM, where waking a process is dear; bench throughput, CPU per request). A
 * handler that keeps its instance's CPU busy still spreads: its requests pile up to
 * `concurrency` and the next ones go elsewhere.
 */
function rank(instance: PlacedInstance): number {
  return (instance.state === 'frozen' ? 1e9 : 0) - instance.inflight;
}
