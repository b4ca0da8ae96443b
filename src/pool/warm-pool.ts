import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import type { ImageStore } from '../image/image-store.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import { Instance, type InstanceState, type StartKind } from './instance.js';
import type { ShimRequest, ShimResponse } from './shim-protocol.js';

export interface Invocation {
  response: ShimResponse;
  start: StartKind;
  instanceId: string;
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
}

/** Errors after which an instance cannot be trusted with another request. */
const FATAL = new Set(['timeout', 'function_crashed', 'out_of_memory']);
const INIT_TIMEOUT_MS = 15_000;

/**
 * Every instance Kiln runs, and the choice of which serves a request: an idle instance
 * of the function's active version (warm), else a new container (cold). Instances belong
 * to one function version for life; a newer version retires the older ones.
 */
export class WarmPool {
  private readonly instances = new Map<string, Instance>();
  private reaper: NodeJS.Timeout | undefined;

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
  ) {}

  startReaper(intervalMs = 1000): void {
    this.reaper = setInterval(() => void this.reapIdle(), intervalMs);
    this.reaper.unref();
  }

  async invoke(fn: FunctionVersion, req: ShimRequest): Promise<Invocation> {
    const { instance, start } = await this.acquire(fn);
    try {
      const response = await instance.forward(req, fn.spec.timeoutMs);
      return { response, start, instanceId: instance.id };
    } catch (err) {
      if (err instanceof KilnError && FATAL.has(err.code)) await this.remove(instance);
      throw err;
    } finally {
      this.release(instance);
    }
  }

  /**
   * Start one instance of a version and load its handler: proves a deploy works before
   * it becomes active, and leaves a warm instance for its first request.
   */
  async prepare(fn: FunctionVersion): Promise<void> {
    const instance = await this.startInstance(fn);
    instance.state = 'idle';
  }

  /** Retire every instance of `name` except those of `keepVersion`; busy ones finish first. */
  async retire(name: string, keepVersion?: number): Promise<void> {
    const doomed = [...this.instances.values()].filter(
      (i) => i.functionName === name && i.version !== keepVersion,
    );
    await Promise.all(
      doomed.map(async (instance) => {
        if (instance.inflight === 0) await this.remove(instance);
        else instance.state = 'draining';
      }),
    );
  }

  async list(): Promise<InstanceInfo[]> {
    return Promise.all(
      [...this.instances.values()].map(async (i) => ({
        id: i.id,
        function: i.functionName,
        version: i.version,
        state: i.state,
        startedAs: i.startedAs,
        uptimeMs: Date.now() - i.container.startedAt,
        requests: i.requests,
        memoryBytes: (await i.container.cgroup.stats()).memoryBytes,
      })),
    );
  }

  has(id: string): boolean {
    return this.instances.has(id);
  }

  async shutdown(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    await Promise.all([...this.instances.values()].map((i) => this.remove(i)));
  }

  private async acquire(fn: FunctionVersion): Promise<{ instance: Instance; start: StartKind }> {
    for (const instance of this.instances.values()) {
      if (
        instance.functionName === fn.spec.name &&
        instance.version === fn.version &&
        instance.state === 'idle' &&
        instance.inflight < fn.spec.concurrency
      ) {
        this.claim(instance);
        return { instance, start: 'warm' };
      }
    }
    const instance = await this.startInstance(fn);
    this.claim(instance);
    return { instance, start: 'cold' };
  }

  private claim(instance: Instance): void {
    instance.inflight++;
    instance.state = 'busy';
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

  private async startInstance(fn: FunctionVersion): Promise<Instance> {
    const image = await this.images.getImage(fn.image);
    const layers = await Promise.all(
      image.manifest.layers.map((l) => this.snapshots.ensure(l.digest, this.images.blobPath(l.digest))),
    );
    const userEnv = Object.entries(fn.spec.env).map(([k, v]) => `${k}=${v}`);
    const container = await this.runtime.start({
      layers,
      args: [...(image.config.config.Entrypoint ?? []), ...(image.config.config.Cmd ?? [])],
      env: [
        ...(image.config.config.Env ?? []),
        ...userEnv,
        'KILN_SOCKET=/run/kiln/shim.sock',
        `KILN_FUNCTION=${fn.spec.name}`,
        `KILN_VERSION=${fn.version}`,
      ],
      cwd: image.config.config.WorkingDir || '/fn',
      hostname: fn.spec.name,
      limits: { memoryBytes: fn.spec.memoryMb * 1024 * 1024, pids: fn.spec.pids, cpus: fn.spec.cpus },
    });
    const instance = new Instance(container, fn, 'cold');
    this.instances.set(instance.id, instance);
    // A process that dies on its own leaves the pool at once.
    void container.exited.then(() => this.instances.delete(instance.id));
    try {
      await instance.init(
        {
          handler: fn.handler,
          source: fn.source,
          env: fn.spec.env,
          codeDir: '/fn',
          function: { name: fn.spec.name, version: fn.version, memoryMb: fn.spec.memoryMb },
        },
        INIT_TIMEOUT_MS,
      );
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

  private async reapIdle(): Promise<void> {
    const now = Date.now();
    for (const instance of this.instances.values()) {
      if (instance.state === 'idle' && now - instance.lastUsedAt > instance.target.spec.idleTtlMs) {
        await this.remove(instance);
      }
    }
  }
}
