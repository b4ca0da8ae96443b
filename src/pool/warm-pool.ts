import { randomBytes } from 'node:crypto';
import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import type { LanguageName } from '../languages/registry.js';
import type { Container } from '../runtime/container.js';
import type { ExecOptions, ExecResult } from '../runtime/oci/driver.js';
import type { ContainerLauncher } from './container-launcher.js';
import { CreatedContainers } from './created-containers.js';
import { FunctionQueue } from './function-queue.js';
import { Instance, type InstanceState, type StartKind } from './instance.js';
import { DEFAULT_REGION, initPayloadOf, type LambdaSettings } from './lambda-environment.js';
import { type PlacedInstance, place } from './placement.js';
import type { ShimRequest, ShimResponse } from './shim-protocol.js';
import { StartAdmission, type StartPriority } from './start-admission.js';
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

/** Where the pool learns which version of a function serves (the function store). */
export interface FunctionDirectory {
  active(name: string): FunctionVersion;
  allActive(): FunctionVersion[];
  /** The version an invoke names: `NAME` (the active one), `NAME@7`, `NAME@alias`. */
  resolve(ref: string): FunctionVersion;
  /** Versions of `name` that aliases point at: kept like the active one, not retired by a deploy. */
  aliasedVersions(name: string): number[];
}

/** Errors after which an instance cannot be trusted with another request. */
const FATAL = new Set(['timeout', 'function_crashed', 'out_of_memory']);
const INIT_TIMEOUT_MS = 15_000;
/** The longest a stem cell's refill waits for its successor's first request to end. */
const REFILL_DELAY_MS = 250;
const ORPHAN_GRACE_MS = 30_000;
const NONE: ReadonlySet<Instance> = new Set();

/** A start in flight, until its handler has loaded: `retire` marks it so it goes once started. */
interface PendingStart {
  id: string;
  name: string;
  version: number;
  /** The version's image: a prune keeps it while the start is under way. */
  image: string;
  retired: boolean;
  /** Started by placement for waiting requests (not a deploy's or `minInstances`' start). */
  forWaiting: boolean;
  /** The line it was started for (`NAME`, `NAME@7`, `NAME@alias`), when `forWaiting`. */
  ref?: string;
}

/** A request admitted to its function's queue, waiting to be placed on an instance. */
interface Waiter {
  place(instance: Instance): void;
  fail(err: unknown): void;
}

/**
 * Every function instance Kiln runs, and the choice of which serves a request (docs/DESIGN.md §4,
 * docs/ARCHITECTURE.md "The scheduler"):
 *   admission  a per-function queue bounds the work (`FunctionQueue`: maxInstances ×
 *              concurrency placed or waiting to be, `maxQueue` more waiting, then 429);
 *   placement  admitted requests wait in a FIFO line per function; `place` (placement.ts)
 *              decides for the head of the line, over the active version's instances, whether
 *              it takes a free slot, a new instance starts, or it waits. Every event that can
 *              change the answer (a request ends, a start finishes or fails, an instance goes,
 *              a version is activated) runs the line again (`dispatch`);
 *   starts     warm an instance with a free slot; stem a prewarmed generic container,
 *              specialized now (it belongs to this version for life); cold a new container
 *              from the function's image.
 * A failed start fails the requests it was started for (the head of the line beyond what
 * other starts absorb, at most `concurrency`), and its container is stopped. A new version
 * retires the old version's instances: idle ones stop, busy ones finish their requests, starts
 * in flight stop once started; waiting requests go to the new version.
 *
 * `x-kiln-start` is `warm` once an instance has served a request, and for the first request
 * of an instance started ahead of time (a deploy, `minInstances`: `Lease.prewarmed`); the
 * first request of an instance started for waiting requests reports how it started.
 */
export class WarmPool {
  private readonly instances = new Map<string, Instance>();
  /** Stem cells to refill once the instance made from each has served its first request. */
  private readonly refills = new Map<Instance, { language: LanguageName; timer: NodeJS.Timeout }>();
  /** The same instances by function name: placement looks at one function's only. */
  private readonly byFunction = new Map<string, Set<Instance>>();
  private readonly queues = new Map<string, FunctionQueue>();
  private readonly lines = new Map<string, Waiter[]>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The maintenance pass running now: a pass never starts while one runs. */
  private maintaining: Promise<void> | undefined;
  /** Starts in flight, so that shutdown waits for them instead of leaving containers behind. */
  private readonly starting = new Set<Promise<unknown>>();
  private readonly pending = new Set<PendingStart>();
  /** Functions whose `retire` runs now (how many at once): none of their versions is created ahead. */
  private readonly retiring = new Map<string, number>();
  private startCount = 0;

  constructor(
    private readonly launcher: ContainerLauncher,
    private readonly functions: FunctionDirectory,
    readonly stemCells: StemCellPool,
    private readonly lambda: LambdaSettings = { region: DEFAULT_REGION },
    /** Shared with the stem cells: every container start on the host waits its turn here. */
    private readonly starts: StartAdmission = new StartAdmission(),
    /** Freeze an instance's cgroup once it has been idle this long (undefined: never). */
    private readonly freezeAfterMs?: number,
    /** Cold starts' containers created ahead (none unless given a limit). */
    readonly created: CreatedContainers = new CreatedContainers(launcher, 0, starts),
  ) {}

  /** Reap idle instances and keep `minInstances` running, every `intervalMs`. */
  startMaintenance(intervalMs = 1000): void {
    for (const fn of this.functions.allActive()) this.stemCells.want(fn.spec.runtime);
    this.timer = setInterval(() => void this.maintain(), intervalMs);
    this.timer.unref();
  }

  /**
   * Admit a request to its function's queue (429 `queue_full` past `maxQueue`), then place
   * it on an instance of the version `ref` names when it is placed (after a redeploy or an
   * alias moved, nothing waiting runs the old code), starting one if placement says so.
   * `ref` is a function name (its active version) or a version pinned by number or alias
   * (`NAME@7`, `NAME@prod`; the function store resolves it).
   */
  async acquire(ref: string): Promise<Lease> {
    const name = this.functions.resolve(ref).spec.name;
    const queue = this.queueFor(this.functions.active(name));
    const arrived = performance.now();
    const admitted = queue.enter(name);
    const freeSlot = typeof admitted === 'function' ? admitted : await admitted;
    let instance: Instance;
    let thawMs: number | undefined;
    try {
      const now = this.placeAtOnce(ref);
      if (now) instance = now;
      else ({ instance, thawMs } = await this.placeThawed(ref));
    } catch (err) {
      freeSlot();
      throw err;
    }
    // An instance started ahead of any request (a deploy's trial start, `minInstances`) was
    // warm by the time this request came: it says `warm` and `prewarmed`, and the start's
    // phases are not this request's (issue 10).
    const fresh = instance.requests === 0;
    const prewarmed = fresh && instance.prewarmed;
    const start: StartKind = fresh && !prewarmed ? instance.startedAs : 'warm';
    const waited = performance.now() - arrived;
    const timings: Record<string, number> = {};
    if (start === 'warm') {
      timings.queue = waited - (thawMs ?? 0);
      if (thawMs !== undefined) timings.thaw = thawMs;
    } else {
      // The request waited through its instance's start: those phases are reported as
      // such, and `queue` is the rest of the wait.
      const startMs = Object.values(instance.startTimings).reduce((a, b) => a + b, 0);
      timings.queue = Math.max(0, waited - startMs);
      Object.assign(timings, instance.startTimings);
    }
    // The first request counts here, not in forward: a second request must not see it as unused.
    instance.requests++;
    let released = false;
    return {
      instance,
      start,
      prewarmed,
      version: instance.version,
      timings,
      release: (outcome) => {
        if (released) return;
        released = true;
        this.release(instance, outcome);
        freeSlot();
      },
    };
  }

  /** `acquire`, send the request, release: the whole request through the pool, buffered. */
  async invoke(ref: string, req: ShimRequest): Promise<Invocation> {
    const lease = await this.acquire(ref);
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
  async prepare(fn: FunctionVersion, priority: StartPriority = 'request'): Promise<void> {
    this.stemCells.want(fn.spec.runtime);
    await this.startInstance(fn, false, priority);
    this.dispatch(fn.spec.name);
  }

  /**
   * Retire every instance of `name` except those of `keepVersion` and of the versions its
   * aliases name (all of them when `keepVersion` is undefined): idle ones stop now, busy
   * ones after their requests, ones still starting once they have started. Requests
   * waiting for an instance are placed again, on the version their ref names now (or
   * refused: the function is gone).
   */
  async retire(name: string, keepVersion?: number): Promise<void> {
    // Versions aliases point at keep their instances too (a deploy does not move `prod`).
    const keep = new Set(
      keepVersion === undefined ? [] : [keepVersion, ...this.functions.aliasedVersions(name)],
    );
    for (const start of this.pending) {
      if (start.name === name && !keep.has(start.version)) start.retired = true;
    }
    const doomed = [...this.instances.values()].filter(
      (i) => i.functionName === name && !keep.has(i.version) && i.state !== 'starting',
    );
    // Each stopped instance would have its version's container created ahead again
    // (`createAheadIfScaledToZero`, the record is still there during `kiln rm`), after a drop
    // run beside the stops: no creating ahead for `name` until the stops are done, then the drop.
    this.retiring.set(name, (this.retiring.get(name) ?? 0) + 1);
    try {
      await Promise.all(doomed.map((instance) => this.stop(instance.id)));
      await this.created.drop(name, keep);
    } finally {
      const left = (this.retiring.get(name) ?? 1) - 1;
      if (left) this.retiring.set(name, left);
      else this.retiring.delete(name);
    }
    if (keepVersion === undefined) this.queues.delete(name);
    this.dispatch(name);
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

  /**
   * The images containers run now or are starting with (instances, of removed functions
   * too while they drain), and the layers stem cells run: what a prune must keep.
   */
  contentInUse(): { instances: { function: string; version: number; image: string }[]; layers: string[] } {
    const instances = [...this.instances.values()].map((i) => ({
      function: i.functionName,
      version: i.version,
      image: i.target.image,
    }));
    for (const p of this.pending) instances.push({ function: p.name, version: p.version, image: p.image });
    // Containers created ahead have their image's snapshots mounted.
    instances.push(...this.created.imagesInUse());
    return { instances, layers: this.stemCells.layersInUse() };
  }

  /** Stop one instance now (`kiln stop`); a busy one finishes its requests first. */
  async stop(id: string): Promise<void> {
    const instance = this.instances.get(id);
    if (!instance) throw new KilnError('instance_not_found', `no instance ${id} (kiln ps lists them)`, 404);
    if (instance.state === 'starting') {
      // Its start goes on; once the handler has loaded, it sees the mark and stops.
      for (const start of this.pending) if (start.id === id) start.retired = true;
      return;
    }
    if (instance.inflight === 0) await this.remove(instance);
    else instance.moveTo('draining');
  }

  /**
   * Run a command inside instance `id` (`kiln exec`), as the instance's own uid, in its
   * cgroup and namespaces. It holds the instance like a request does: a frozen one is thawed
   * first, and it is neither frozen nor reaped while the command runs.
   */
  async exec(
    id: string,
    args: string[],
    options: Pick<ExecOptions, 'timeoutMs' | 'onOutput' | 'signal'> = {},
  ): Promise<ExecResult> {
    const instance = this.execTarget(id);
    this.claim(instance);
    try {
      await instance.thawing;
      return await instance.container.exec(args, options);
    } finally {
      this.release(instance, 'ok');
    }
  }

  /** The instance `kiln exec` may run a command in now: 404 when there is none, 409 when it is not serving. */
  execTarget(id: string): Instance {
    const instance = this.instances.get(id);
    if (!instance) throw new KilnError('instance_not_found', `no instance ${id} (kiln ps lists them)`, 404);
    if (!['idle', 'frozen', 'busy'].includes(instance.state)) {
      throw new KilnError(
        'instance_not_ready',
        `instance ${id} is ${instance.state}: nothing to exec in`,
        409,
      );
    }
    return instance;
  }

  /** Requests waiting for a queue slot, by function (`kiln_queue_depth`). */
  queueDepths(): Record<string, number> {
    const depths: Record<string, number> = {};
    for (const [name, queue] of this.queues) depths[name] = queue.counts.waiting;
    return depths;
  }

  /** Container starts in flight for `name` (every function when undefined). */
  pendingStarts(name?: string): number {
    return [...this.pending].filter((p) => name === undefined || p.name === name).length;
  }

  /** Container starts on the host running now and waiting their turn (`StartAdmission`). */
  startAdmission(): { running: number; waiting: number; limit: number } {
    return { ...this.starts.counts, limit: this.starts.limit };
  }

  listStemCells(): Promise<StemCellInfo[]> {
    return this.stemCells.list();
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const refused = new KilnError('shutting_down', 'Kiln is shutting down', 503);
    for (const line of this.lines.values()) for (const waiter of line.splice(0)) waiter.fail(refused);
    await this.maintaining;
    await Promise.allSettled([...this.starting]);
    await this.stemCells.shutdown();
    await this.created.shutdown();
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

  /**
   * The instance `dispatchLine` would place this request on at once, without joining the line:
   * when nothing waits in it (so this request would be its head, `waiting: 1`) and placement
   * picks an instance that needs no thaw. The decision is the same `place` over the same view;
   * only the line's promise and its turns of the event loop are skipped, which were 11 µs of
   * the gateway's CPU per warm request at 64 connections (instrumented, issue 9). Anything else
   * (a start, a wait, a frozen or thawing instance, shutdown) takes the line: undefined.
   */
  private placeAtOnce(ref: string): Instance | undefined {
    if (this.closed || (this.lines.get(ref)?.length ?? 0) > 0) return undefined;
    const fn = this.functions.resolve(ref);
    const decision = place({
      instances: this.placementView(fn),
      maxInstances: fn.spec.maxInstances,
      concurrency: fn.spec.concurrency,
      waiting: 1,
    });
    if (decision.kind !== 'use') return undefined;
    const instance = this.instances.get(decision.id);
    if (!instance || instance.state === 'frozen' || instance.thawing) return undefined;
    this.claim(instance);
    return instance;
  }

  /**
   * An instance for this request, thawed: a frozen one is thawed when placement picks it, and
   * every request placed on it meanwhile waits for that thaw. One whose cgroup cannot be
   * thawed cannot serve: it is removed and the request placed again.
   */
  private async placeThawed(ref: string): Promise<{ instance: Instance; thawMs: number | undefined }> {
    for (let attempt = 1; ; attempt++) {
      const instance = await this.waitForInstance(ref);
      if (!instance.thawing) return { instance, thawMs: undefined };
      try {
        return { instance, thawMs: await instance.thawing };
      } catch (err) {
        this.release(instance, 'broken');
        if (attempt === 3)
          throw new KilnError(
            'instance_unavailable',
            `no instance of "${ref}" could be thawed (${(err as Error).message}); retry shortly`,
            503,
            { 'retry-after': '1' },
          );
      }
    }
  }

  /**
   * Join the line of `ref` (`NAME`, `NAME@7`, `NAME@alias`: one line per ref, each placed on
   * the version its ref names) and wait until `dispatch` places this request on an instance.
   */
  private waitForInstance(ref: string): Promise<Instance> {
    if (this.closed) return Promise.reject(new KilnError('shutting_down', 'Kiln is shutting down', 503));
    return new Promise((resolve, reject) => {
      let line = this.lines.get(ref);
      if (!line) {
        line = [];
        this.lines.set(ref, line);
      }
      line.push({ place: resolve, fail: reject });
      this.dispatchLine(ref);
    });
  }

  /** What `place` sees of the active version: its instances, and its starts in flight as `starting`. */
  private placementView(fn: FunctionVersion): PlacedInstance[] {
    const view: PlacedInstance[] = [];
    for (const instance of this.instancesOf(fn.spec.name)) {
      if (instance.version !== fn.version) continue;
      // A starting instance is counted once, through its pending start below.
      if (instance.state === 'starting') continue;
      view.push({ id: instance.id, state: instance.state, inflight: instance.inflight });
    }
    for (const start of this.pending) {
      if (start.name === fn.spec.name && start.version === fn.version && !start.retired)
        view.push({ id: start.id, state: 'starting', inflight: 0 });
    }
    return view;
  }

  /** Run every line of function `name`: its own and those of its pinned refs. */
  private dispatch(name: string): void {
    for (const ref of [...this.lines.keys()]) {
      if (ref === name || ref.startsWith(`${name}@`)) this.dispatchLine(ref);
    }
  }

  /** Place the waiting requests of `ref`, head first, until placement says wait. */
  private dispatchLine(ref: string): void {
    const line = this.lines.get(ref);
    if (!line || line.length === 0) return;
    let fn: FunctionVersion;
    try {
      fn = this.functions.resolve(ref);
    } catch (err) {
      // The function was removed while these requests waited.
      for (const waiter of line.splice(0)) waiter.fail(err);
      return;
    }
    while (line.length > 0 && !this.closed) {
      const decision = place({
        instances: this.placementView(fn),
        maxInstances: fn.spec.maxInstances,
        concurrency: fn.spec.concurrency,
        waiting: line.length,
      });
      if (decision.kind === 'wait') return;
      if (decision.kind === 'start') {
        // It never rejects: a failure fails the requests it was for (failWaitersOf).
        void this.startInstance(fn, true, 'request', ref).catch(() => undefined);
        continue;
      }
      const instance = this.instances.get(decision.id);
      if (!instance) return;
      this.claim(instance);
      line.shift()?.place(instance);
    }
  }

  private claim(instance: Instance): void {
    clearTimeout(instance.freezeTimer);
    if (instance.state === 'frozen') {
      instance.moveTo('busy');
      const thawing = instance.thaw();
      instance.thawing = thawing;
      const settled = () => {
        if (instance.thawing === thawing) instance.thawing = undefined;
      };
      thawing.then(settled, settled);
    }
    instance.inflight++;
    instance.moveTo('busy');
  }

  /**
   * Freeze `instance` once it has been idle `freezeAfterMs`: no background work of the
   * function runs between requests (issue 8 item 11; Lambda freezes an execution environment
   * between invokes, OpenWhisk pauses an idle container after a short grace).
   */
  private freezeWhenIdle(instance: Instance): void {
    if (this.freezeAfterMs === undefined) return;
    clearTimeout(instance.freezeTimer);
    instance.freezeTimer = setTimeout(() => {
      if (instance.state !== 'idle' || this.closed || !this.instances.has(instance.id)) return;
      instance.freeze().catch((err: Error) => {
        // Not frozen after all (the freezer thawed it again): it serves as an idle one.
        if (instance.state === 'frozen') instance.moveTo('idle');
        console.error(`kiln: freezing idle instance ${instance.id} failed: ${err.message}`);
      });
    }, this.freezeAfterMs);
    instance.freezeTimer.unref();
  }

  private release(instance: Instance, outcome: 'ok' | 'broken'): void {
    this.replenishFor(instance);
    instance.inflight--;
    instance.lastUsedAt = Date.now();
    if (!this.instances.has(instance.id)) return;
    if (outcome === 'broken') void this.remove(instance);
    else if (instance.state === 'draining') {
      if (instance.inflight === 0) void this.remove(instance);
    } else if (instance.inflight === 0) {
      instance.moveTo('idle');
      this.freezeWhenIdle(instance);
    }
    this.dispatch(instance.functionName);
  }

  /**
   * Start an instance and load its handler. `forWaiting`: placement asked for it, so a
   * failure fails the waiting requests it was for (and resolves undefined); otherwise
   * (a deploy, `minInstances`) the failure is the caller's. Resolves undefined too when the
   * start was retired meanwhile: the instance is stopped as soon as it has started.
   */
  private async startInstance(
    fn: FunctionVersion,
    forWaiting: boolean,
    priority: StartPriority = 'request',
    ref = fn.spec.name,
  ): Promise<Instance | undefined> {
    if (this.closed) throw new KilnError('shutting_down', 'Kiln is shutting down', 503);
    const pending: PendingStart = {
      id: `start-${++this.startCount}`,
      name: fn.spec.name,
      version: fn.version,
      image: fn.image,
      retired: false,
      forWaiting,
      ref,
    };
    this.pending.add(pending);
    // The start waits its turn among all the host's starts (issue 8 item 7); one retired or
    // shut down while it waited never starts.
    // A background start (minInstances) of a version no longer active when its turn comes
    // is not wanted either.
    const wanted = () =>
      !pending.retired && !this.closed && (priority !== 'background' || this.stillActive(fn));
    const started = this.starts.run(
      () => (wanted() ? this.launch(fn, pending) : Promise.resolve(undefined)),
      priority,
    );
    this.starting.add(started);
    try {
      const instance = await started;
      this.pending.delete(pending);
      if (!instance || instance.state === 'gone') return undefined;
      if (pending.retired || this.closed) {
        await this.remove(instance);
        return undefined;
      }
      // Marked before it can take a request: the dispatch below may place one on it at once.
      instance.prewarmed = !forWaiting;
      instance.moveTo('idle');
      this.freezeWhenIdle(instance);
      return instance;
    } catch (err) {
      this.pending.delete(pending);
      if (!forWaiting) throw err;
      this.failWaitersOf(ref, fn, err);
      return undefined;
    } finally {
      this.starting.delete(started);
      this.dispatch(fn.spec.name);
    }
  }

  /**
   * A start placement asked for failed: the requests it was for fail with its error. Those
   * are the head of the line beyond what the other starts in flight will absorb, at most
   * one instance's worth (`concurrency`); the rest keep waiting and are placed again.
   */
  private failWaitersOf(ref: string, fn: FunctionVersion, err: unknown): void {
    const line = this.lines.get(ref);
    if (!line) return;
    const othersStarting = this.placementView(fn).filter((i) => i.state === 'starting').length;
    const uncovered = line.length - othersStarting * fn.spec.concurrency;
    const failing = Math.min(fn.spec.concurrency, Math.max(0, uncovered));
    for (const waiter of line.splice(0, failing)) waiter.fail(err);
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
      container = await this.startCold(fn);
      // A container created ahead has no `mount` phase (it was paid before the request)
      // and says `precreated` (a zero-length Server-Timing entry): still a cold start.
      if (container.timings.precreated) phases.precreated = 0;
      else phases.mount = container.timings.mountMs;
      phases.runtime = container.timings.runtimeMs;
      phases.ready = container.timings.readyMs;
    }
    const instance = new Instance(container, fn, stem ? 'stem' : 'cold');
    pending.id = instance.id;
    this.track(instance);
    // A process that dies on its own leaves the pool at once.
    void container.exited.then(() => {
      if (!this.forget(instance)) return;
      instance.moveTo('gone');
      this.dispatch(instance.functionName);
    });
    const initStarted = performance.now();
    try {
      await instance.init(
        initPayloadOf(fn, this.lambda, randomBytes(16).toString('hex'), !pending.forWaiting),
        INIT_TIMEOUT_MS,
      );
      phases.init = performance.now() - initStarted;
      Object.assign(instance.startTimings, phases);
    } catch (err) {
      if (stem) this.stemCells.replenish(fn.spec.runtime);
      const tail = await container.logTail(1500);
      await this.remove(instance);
      if (err instanceof KilnError && err.status === 400) throw err;
      throw new KilnError(
        'handler_load_failed',
        `the function's process failed while loading: ${(err as Error).message}${tail ? `\n${tail.trim()}` : ''}`,
        400,
      );
    }
    if (stem) this.replenishAfterFirstRequest(instance, fn.spec.runtime, pending.forWaiting);
    return instance;
  }

  /** A cold start: the version's container created ahead if there is one, else a new one. */
  private async startCold(fn: FunctionVersion): Promise<Container> {
    const created = await this.created.take(fn);
    if (created) {
      try {
        return await created.start();
      } catch (err) {
        // Its failure is logged and the request gets a new container instead.
        console.error(
          `kiln: starting created container ${created.container.id} failed: ${(err as Error).message}`,
        );
      }
    }
    return this.launcher.startFunction(fn);
  }

  /**
   * Start the replacement of the stem cell `instance` was made from once its first request
   * has ended (or it is gone), at most `REFILL_DELAY_MS` after it loaded its handler: a
   * replacement's crun and runtime boot take the same cores as that first request
   * (issue 17: a stem start's first response at load was 5-10 ms with the refill beside it).
   */
  private replenishAfterFirstRequest(instance: Instance, language: LanguageName, forWaiting: boolean): void {
    if (!forWaiting) {
      this.stemCells.replenish(language);
      return;
    }
    const timer = setTimeout(() => this.replenishFor(instance), REFILL_DELAY_MS);
    timer.unref();
    this.refills.set(instance, { language, timer });
  }

  /** The deferred refill of `instance`'s stem cell, if it has not started yet. */
  private replenishFor(instance: Instance): void {
    const refill = this.refills.get(instance);
    if (!refill) return;
    this.refills.delete(instance);
    clearTimeout(refill.timer);
    this.stemCells.replenish(refill.language);
  }

  /** `fn` is still its function's active version (not removed, not redeployed). */
  private stillActive(fn: FunctionVersion): boolean {
    try {
      return this.functions.active(fn.spec.name).version === fn.version;
    } catch {
      return false;
    }
  }

  private instancesOf(name: string): ReadonlySet<Instance> {
    return this.byFunction.get(name) ?? NONE;
  }

  private track(instance: Instance): void {
    this.instances.set(instance.id, instance);
    let set = this.byFunction.get(instance.functionName);
    if (!set) {
      set = new Set();
      this.byFunction.set(instance.functionName, set);
    }
    set.add(instance);
  }

  /** Drop an instance from the pool's books; false if it was not in them. */
  private forget(instance: Instance): boolean {
    this.replenishFor(instance);
    if (this.instances.get(instance.id) !== instance) return false;
    this.instances.delete(instance.id);
    const set = this.byFunction.get(instance.functionName);
    set?.delete(instance);
    if (set?.size === 0) this.byFunction.delete(instance.functionName);
    return true;
  }

  private async remove(instance: Instance): Promise<void> {
    const present = this.forget(instance);
    await instance.destroy();
    if (present) {
      this.createAheadIfScaledToZero(instance.target);
      this.dispatch(instance.functionName);
    }
  }

  /**
   * A version that just lost its last instance (idle reaping, `kiln stop`) gets a container
   * created ahead for its next cold start, if stem cells cannot serve it: with stem cells on
   * and no volumes a stem start is faster still (docs/DESIGN.md §4).
   */
  private createAheadIfScaledToZero(fn: FunctionVersion): void {
    if (this.closed || this.created.limit === 0 || this.retiring.has(fn.spec.name) || !this.stillActive(fn))
      return;
    if (this.stemCells.perLanguage > 0 && !fn.spec.volumes?.length) return;
    const others = [...this.instancesOf(fn.spec.name)].some((i) => i.version === fn.version);
    const starting = [...this.pending].some((p) => p.name === fn.spec.name && p.version === fn.version);
    if (!others && !starting) this.created.fill(fn);
  }

  /** One maintenance pass at a time: a pass still running when the timer fires is not doubled. */
  private maintain(): Promise<void> {
    if (!this.maintaining) {
      this.maintaining = this.maintainOnce().finally(() => {
        this.maintaining = undefined;
      });
    }
    return this.maintaining;
  }

  /** Scale to zero after `idleTtlMs`, but never below `minInstances`; top up to it. */
  private async maintainOnce(): Promise<void> {
    const now = Date.now();
    const active = this.functions.allActive();
    // An idle instance of a version neither active nor aliased (a deploy that failed after
    // its trial start, a version invoked pinned by number) stops after a grace period that
    // a deploy in progress needs.
    const serving = new Set(
      active.flatMap((fn) => [
        `${fn.spec.name}@${fn.version}`,
        ...this.functions.aliasedVersions(fn.spec.name).map((v) => `${fn.spec.name}@${v}`),
      ]),
    );
    for (const instance of [...this.instances.values()]) {
      const orphan = !serving.has(`${instance.functionName}@${instance.version}`);
      if (orphan && resting(instance) && now - instance.lastUsedAt > ORPHAN_GRACE_MS)
        await this.remove(instance);
    }
    for (const fn of active) {
      if (this.closed) return;
      const view = this.placementView(fn).filter((i) => i.state !== 'draining');
      let keep = view.length;
      const mine = [...this.instancesOf(fn.spec.name)].filter((i) => i.version === fn.version);
      for (const instance of mine) {
        if (keep <= fn.spec.minInstances) break;
        if (resting(instance) && now - instance.lastUsedAt > fn.spec.idleTtlMs) {
          keep--;
          await this.remove(instance);
        }
      }
      // The top-ups start together: StartAdmission bounds how many run at once, and one whose
      // turn comes after the function was removed or redeployed does not start (`stillActive`).
      const missing = this.closed || !this.stillActive(fn) ? 0 : Math.max(0, fn.spec.minInstances - keep);
      await Promise.all(
        Array.from({ length: missing }, () =>
          this.prepare(fn, 'background').catch((err: Error) =>
            console.error(`kiln: keeping ${fn.spec.name} at minInstances failed: ${err.message}`),
          ),
        ),
      );
    }
  }
}

/** Idle, frozen or not: nothing in flight, nothing placed on it. */
function resting(instance: Instance): boolean {
  return instance.state === 'idle' || instance.state === 'frozen';
}
