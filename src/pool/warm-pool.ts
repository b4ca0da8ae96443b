import { randomBytes } from 'node:crypto';
import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import type { Container } from '../runtime/container.js';
import type { ContainerLauncher } from './container-launcher.js';
import { FunctionQueue } from './function-queue.js';
import { Instance, type InstanceState, type StartKind } from './instance.js';
import { DEFAULT_REGION, initPayloadOf, type LambdaSettings } from './lambda-environment.js';
import type { ShimRequest, ShimResponse } from './shim-protocol.js';
import type { StemCellInfo, StemCellPool } from './stem-cells.js';

export interface Invocation {
  response: ShimResponse;
  start: StartKind;
  /** The instance was started ahead of time (a deploy, `minInstances`) and this is its first request. */
  prewarmed: boolean;
  instanceId: string;
  version: number;
  /** Phases of this request in ms: queue, the instance's start phases if it started for it, fn. */
  timings: Record<string, number>;
}

/**
 * One request's hold on an instance, from `WarmPool.acquire`: the caller sends the request
 * to `instance` and then calls `release` exactly once (later calls do nothing). `broken`
 * means the instance cannot be trusted with another request (it timed out, its process
 * died, it ran out of memory): the pool removes it. Releasing frees the request's queue slot.
 */
export interface Lease {
  instance: Instance;
  /** How the instance came to serve this request: `warm` unless it started for it. */
  start: StartKind;
  /** The instance was started ahead of time (a deploy, `minInstances`) and this is its first request. */
  prewarmed: boolean;
  version: number;
  /** Phases so far in ms: `queue`, and the instance's start phases if it started for this request. */
  timings: Record<string, number>;
  release(outcome: 'ok' | 'broken'): void;
}

export interface InstanceInfo {
  id: string;
  function: string;
  version: number;
  state: InstanceState;
  startedAs: 'cold' | 'stem';
  uptimeMs: number;
  requests: number;
  memoryBytes: number;
  /** CPU time its cgroup has used, in µs. */
  cpuUsageUs: number;
}

/** Where the pool learns which version of a function is active (the function store). */
export interface FunctionDirectory {
  active(name: string): FunctionVersion;
  allActive(): FunctionVersion[];
}

/** Errors after which an instance cannot be trusted with another request. */
const FATAL = new Set(['timeout', 'function_crashed', 'out_of_memory']);
const INIT_TIMEOUT_MS = 15_000;
const ORPHAN_GRACE_MS = 30_000;

/** A start in flight, before its instance is in the pool: `retire` marks it so it goes once started. */
interface PendingStart {
  name: string;
  version: number;
  retired: boolean;
}

/**
 * Every function instance Kiln runs, and the choice of which serves a request (docs/DESIGN.md §4):
 *   warm  an instance of the active version with a free slot;
 *   stem  else a prewarmed generic container, specialized now: its `/fn` gets the code
 *         and the shim loads the handler; it belongs to this version for life;
 *   cold  else a new container from the function's image.
 * A per-function queue bounds the work (`FunctionQueue`). A new version retires the old
 * version's instances; busy ones finish their request first, and one still starting
 * (for a request whose turn came before the switch) serves that request and goes.
 *
 * `x-kiln-start` is `warm` once an instance has served a request; an instance's first
 * request reports how the instance started, even when a deploy started it ahead of time
 * (`Lease.prewarmed` says that it was).
 */
export class WarmPool {
  private readonly instances = new Map<string, Instance>();
  private readonly queues = new Map<string, FunctionQueue>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Starts in flight, so that shutdown waits for them instead of leaving containers behind. */
  private readonly starting = new Set<Promise<unknown>>();
  private readonly pending = new Set<PendingStart>();

  constructor(
    private readonly launcher: ContainerLauncher,
    private readonly functions: FunctionDirectory,
    readonly stemCells: StemCellPool,
    private readonly lambda: LambdaSettings = { region: DEFAULT_REGION },
  ) {}

  /** Reap idle instances and keep `minInstances` running, every `intervalMs`. */
  startMaintenance(intervalMs = 1000): void {
    for (const fn of this.functions.allActive()) this.stemCells.want(fn.spec.runtime);
    this.timer = setInterval(() => void this.maintain(), intervalMs);
    this.timer.unref();
  }

  /**
   * Admit a request to `name`'s queue (429 `queue_full` past `maxQueue`), then, when its
   * turn comes, resolve the active version (after a redeploy, nothing queued runs the old
   * code) and place it on an instance of that version.
   */
  async acquire(name: string): Promise<Lease> {
    const queue = this.queueFor(this.functions.active(name));
    const arrived = performance.now();
    const admitted = queue.enter(name);
    const freeSlot = typeof admitted === 'function' ? admitted : await admitted;
    let instance: Instance;
    let start: StartKind;
    let current: FunctionVersion;
    const timings: Record<string, number> = {};
    try {
      current = this.functions.active(name);
      timings.queue = performance.now() - arrived;
      ({ instance, start } = await this.place(current));
    } catch (err) {
      freeSlot();
      throw err;
    }
    const prewarmed = instance.requests === 0 && instance.prewarmed;
    if (start !== 'warm') Object.assign(timings, instance.startTimings);
    // The first request counts here, not in forward: a second request must not see it as unused.
    instance.requests++;
    let released = false;
    return {
      instance,
      start,
      prewarmed,
      version: current.version,
      timings,
      release: (outcome) => {
        if (released) return;
        released = true;
        this.release(instance);
        if (outcome === 'broken') void this.remove(instance);
        freeSlot();
      },
    };
  }

  /** `acquire`, send the request, release: the whole request through the pool, buffered. */
  async invoke(name: string, req: ShimRequest): Promise<Invocation> {
    const lease = await this.acquire(name);
    const { instance, timings } = lease;
    let outcome: 'ok' | 'broken' = 'ok';
    try {
      const sent = performance.now();
      const response = await instance.forward(req, instance.target.spec.timeoutMs);
      timings.fn = performance.now() - sent;
      return {
        response,
        start: lease.start,
        prewarmed: lease.prewarmed,
        instanceId: instance.id,
        version: lease.version,
        timings,
      };
    } catch (err) {
      if (err instanceof KilnError && FATAL.has(err.code)) outcome = 'broken';
      throw err;
    } finally {
      lease.release(outcome);
    }
  }

  /**
   * Start one instance of a version and load its handler: proves a deploy works before
   * it becomes active, and leaves an instance ready for its first request.
   */
  async prepare(fn: FunctionVersion): Promise<void> {
    this.stemCells.want(fn.spec.runtime);
    const instance = await this.startInstance(fn);
    instance.prewarmed = true;
    // Retired while it started (its function was removed or replaced): it goes at once.
    if (instance.state === 'draining') await this.remove(instance);
    else instance.state = 'idle';
  }

  /**
   * Retire every instance of `name` except those of `keepVersion`: idle ones stop now,
   * busy ones after their requests, ones still starting once they have started (and
   * served the request they were started for).
   */
  async retire(name: string, keepVersion?: number): Promise<void> {
    for (const start of this.pending) {
      if (start.name === name && start.version !== keepVersion) start.retired = true;
    }
    const doomed = [...this.instances.values()].filter(
      (i) => i.functionName === name && i.version !== keepVersion,
    );
    await Promise.all(doomed.map((instance) => this.stop(instance.id)));
    if (keepVersion === undefined) this.queues.delete(name);
  }

  async list(): Promise<InstanceInfo[]> {
    return Promise.all(
      [...this.instances.values()].map(async (i) => {
        const stats = await i.container.cgroup.stats();
        return {
          id: i.id,
          function: i.functionName,
          version: i.version,
          state: i.state,
          startedAs: i.startedAs,
          uptimeMs: Date.now() - i.container.startedAt,
          requests: i.requests,
          memoryBytes: stats.memoryBytes,
          cpuUsageUs: stats.cpuUsageUs,
        };
      }),
    );
  }

  /** Stop one instance now (`kiln stop`); a busy one finishes its requests first. */
  async stop(id: string): Promise<void> {
    const instance = this.instances.get(id);
    if (!instance) throw new KilnError('instance_not_found', `no instance ${id} (kiln ps lists them)`, 404);
    if (instance.inflight === 0 && instance.state !== 'starting') await this.remove(instance);
    else instance.state = 'draining';
  }

  /** Container starts in flight for `name` (every function when undefined). */
  pendingStarts(name?: string): number {
    return [...this.pending].filter((p) => name === undefined || p.name === name).length;
  }

  listStemCells(): Promise<StemCellInfo[]> {
    return this.stemCells.list();
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.starting]);
    await this.stemCells.shutdown();
    await Promise.all([...this.instances.values()].map((i) => this.remove(i)));
  }

  private queueFor(fn: FunctionVersion): FunctionQueue {
    const slots = fn.spec.maxInstances * fn.spec.concurrency;
    let queue = this.queues.get(fn.spec.name);
    if (!queue) {
      queue = new FunctionQueue(slots, fn.spec.maxQueue);
      this.queues.set(fn.spec.name, queue);
    } else {
      queue.resize(slots, fn.spec.maxQueue);
    }
    return queue;
  }

  private async place(fn: FunctionVersion): Promise<{ instance: Instance; start: StartKind }> {
    for (const instance of this.instances.values()) {
      if (
        instance.functionName === fn.spec.name &&
        instance.version === fn.version &&
        (instance.state === 'idle' || instance.state === 'busy') &&
        instance.inflight < fn.spec.concurrency
      ) {
        this.claim(instance);
        return { instance, start: instance.requests === 0 ? instance.startedAs : 'warm' };
      }
    }
    const instance = await this.startInstance(fn);
    this.claim(instance);
    return { instance, start: instance.startedAs };
  }

  private claim(instance: Instance): void {
    instance.inflight++;
    // A draining instance still serves the request that started it, then goes.
    if (instance.state !== 'draining') instance.state = 'busy';
  }

  private release(instance: Instance): void {
    instance.inflight--;
    instance.lastUsedAt = Date.now();
    if (!this.instances.has(instance.id)) return;
    if (instance.state === 'draining') {
      if (instance.inflight === 0) void this.remove(instance);
    } else if (instance.inflight === 0) {
      instance.state = 'idle';
    }
  }

  private startInstance(fn: FunctionVersion): Promise<Instance> {
    if (this.closed) return Promise.reject(new KilnError('shutting_down', 'Kiln is shutting down', 503));
    const pending: PendingStart = { name: fn.spec.name, version: fn.version, retired: false };
    this.pending.add(pending);
    const started = this.launch(fn, pending);
    this.starting.add(started);
    return started.finally(() => {
      this.starting.delete(started);
      this.pending.delete(pending);
    });
  }

  /** A specialized stem cell if one is ready, else a cold container; either way, initialized. */
  private async launch(fn: FunctionVersion, pending: PendingStart): Promise<Instance> {
    const phases: Record<string, number> = {};
    const t0 = performance.now();
    const stem = await this.stemCells.specialize(fn);
    let container: Container;
    if (stem) {
      container = stem;
      phases.specialize = performance.now() - t0;
    } else {
      container = await this.launcher.startFunction(fn);
      phases.mount = container.timings.mountMs;
      phases.runtime = container.timings.runtimeMs;
      phases.ready = container.timings.readyMs;
    }
    const instance = new Instance(container, fn, stem ? 'stem' : 'cold');
    // Retired while its container started: it serves what it was started for, then goes.
    if (pending.retired) instance.state = 'draining';
    this.instances.set(instance.id, instance);
    // A process that dies on its own leaves the pool at once.
    void container.exited.then(() => this.instances.delete(instance.id));
    const initStarted = performance.now();
    try {
      await instance.init(initPayloadOf(fn, this.lambda, randomBytes(16).toString('hex')), INIT_TIMEOUT_MS);
      phases.init = performance.now() - initStarted;
      Object.assign(instance.startTimings, phases);
    } catch (err) {
      const tail = await container.logTail(1500);
      await this.remove(instance);
      if (err instanceof KilnError && err.status === 400) throw err;
      throw new KilnError(
        'handler_load_failed',
        `the function's process failed while loading: ${(err as Error).message}${tail ? `\n${tail.trim()}` : ''}`,
        400,
      );
    }
    return instance;
  }

  private async remove(instance: Instance): Promise<void> {
    this.instances.delete(instance.id);
    await instance.destroy();
  }

  /** Scale to zero after `idleTtlMs`, but never below `minInstances`; top up to it. */
  private async maintain(): Promise<void> {
    const now = Date.now();
    const active = this.functions.allActive();
    // An idle instance of no active version (a deploy that failed after its trial start,
    // say) serves nothing: stop it, after a grace period that a deploy in progress needs.
    const serving = new Set(active.map((fn) => `${fn.spec.name}@${fn.version}`));
    for (const instance of [...this.instances.values()]) {
      const orphan = !serving.has(`${instance.functionName}@${instance.version}`);
      if (orphan && instance.state === 'idle' && now - instance.lastUsedAt > ORPHAN_GRACE_MS)
        await this.remove(instance);
    }
    for (const fn of active) {
      if (this.closed) return;
      const mine = [...this.instances.values()].filter(
        (i) => i.functionName === fn.spec.name && i.version === fn.version && i.state !== 'draining',
      );
      let keep = mine.length;
      for (const instance of mine) {
        if (keep <= fn.spec.minInstances) break;
        if (instance.state === 'idle' && now - instance.lastUsedAt > fn.spec.idleTtlMs) {
          keep--;
          await this.remove(instance);
        }
      }
      for (let i = keep; i < fn.spec.minInstances; i++) {
        await this.prepare(fn).catch((err: Error) =>
          console.error(`kiln: keeping ${fn.spec.name} at minInstances failed: ${err.message}`),
        );
      }
    }
  }
}
