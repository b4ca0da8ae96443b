import { createHash } from 'node:crypto';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { AsyncInvoker } from './async/async-invoker.js';
import { AsyncStore } from './async/async-store.js';
import { BaseImageBuilder, type BuildLog } from './build/base-images.js';
import { DataDir } from './data-dir.js';
import { DataDirLock } from './data-dir-lock.js';
import { clearDebris } from './deploy/debris.js';
import { Deployer } from './deploy/deployer.js';
import { KilnError } from './errors.js';
import { FunctionStore } from './functions/function-store.js';
import { CallListeners } from './gateway/call-listeners.js';
import { ImageStore } from './image/image-store.js';
import { Registries } from './image/registry/registries.js';
import { SnapshotStore } from './image/snapshot-store.js';
import type { LanguageName } from './languages/registry.js';
import { LogStore } from './logs/log-store.js';
import { CreatedContainers } from './pool/created-containers.js';
import { ImageLauncher } from './pool/image-launcher.js';
import { regionFromEnv } from './pool/lambda-environment.js';
import type { ShimRequest } from './pool/shim-protocol.js';
import { StartAdmission } from './pool/start-admission.js';
import { StemCellPool } from './pool/stem-cells.js';
import { WarmPool } from './pool/warm-pool.js';
import { ImagePruner } from './prune/image-pruner.js';
import { pruneSystem, type SystemPruneReport } from './prune/system-prune.js';
import { detectCgroupTree } from './runtime/cgroup/host.js';
import { ContainerRuntime, volumesUnsupported } from './runtime/container-runtime.js';
import { ksmdOff, ksmFromEnv } from './runtime/oci/memory-merge.js';
import { selectOciRuntime } from './runtime/oci/select.js';
import { kernelRunsSharedReaper, sharedReaperFromEnv } from './runtime/oci/shared-reaper.js';
import { OciBuildSandbox } from './runtime/oci-build-sandbox.js';
import { parseUidRange, UidLeases } from './runtime/uid-leases.js';
import { SecretStore } from './secrets/secret-store.js';
import { Telemetry } from './telemetry/telemetry.js';
import { invokeAsyncAttempt } from './traced-invoke.js';
import { parseVolumeUid } from './volumes/volume-owner.js';
import { VolumeStore } from './volumes/volume-store.js';

export interface KilnOptions {
  dataDir?: string;
  /** Where the OCI runtime keeps container state; one per data dir so two Kilns never meet. */
  stateRoot?: string;
  log?: BuildLog;
  /** Stem cells kept per language with functions (default `KILN_STEM_CELLS`, else 2; 0 = off). */
  stemCells?: number;
  /** Cold-start containers created ahead, host-wide (default `KILN_PRECREATED`, else 0 = off). */
  precreated?: number;
  /** First retry delay of async invocations (default `KILN_ASYNC_BACKOFF_MS`, else 1 s). */
  asyncBackoffMs?: number;
  /** Freeze instances idle this long (default `KILN_FREEZE_AFTER_MS`, else 50 ms; null = never). */
  freezeAfterMs?: number | null;
  /** Containers' memory offered to kernel same-page merging (default `KILN_KSM`, else off; docs/SECURITY.md). */
  ksm?: boolean;
  /** Metrics, the gateway log and traces; a new one (log level from `KILN_LOG_LEVEL`) when absent. */
  telemetry?: Telemetry;
}

/**
 * `KILN_FREEZE_AFTER_MS`: how long an instance stays idle before its cgroup is frozen
 * (default 50 ms, OpenWhisk's pause grace; `off`: never). A thaw costs well under a
 * millisecond (`npm run bench`), so freezing early costs little and stops background work soon.
 */
function freezeAfterFromEnv(): number | undefined {
  const raw = process.env.KILN_FREEZE_AFTER_MS;
  if (raw === undefined || raw === '') return 50;
  if (raw === 'off') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new KilnError(
      'invalid_config',
      `KILN_FREEZE_AFTER_MS must be a whole number of ms or "off", got "${raw}"`,
      500,
    );
  return n;
}

/** `KILN_BUILD_TIMEOUT_MS`: how long a build container may run (default 120 s). */
function buildTimeoutFromEnv(): number | undefined {
  const raw = process.env.KILN_BUILD_TIMEOUT_MS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 100) {
    throw new KilnError(
      'invalid_config',
      `KILN_BUILD_TIMEOUT_MS must be a whole number of ms (≥ 100), got "${raw}"`,
      500,
    );
  }
  return n;
}

function asyncBackoffFromEnv(): number | undefined {
  const raw = process.env.KILN_ASYNC_BACKOFF_MS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new KilnError(
      'invalid_config',
      `KILN_ASYNC_BACKOFF_MS must be a whole number of ms, got "${raw}"`,
      500,
    );
  return n;
}

/**
 * `KILN_PRECREATED`: how many cold-start containers the host keeps created ahead, at most one
 * per function version scaled to zero that stem cells cannot serve (default 0: off; issue 17).
 */
function precreatedFromEnv(): number {
  return wholeNumberFromEnv('KILN_PRECREATED', 0);
}

function stemCellsFromEnv(): number {
  return wholeNumberFromEnv('KILN_STEM_CELLS', 2);
}

/** A count from the environment (`fallback` when unset or empty); anything else is refused. */
function wholeNumberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new KilnError('invalid_config', `${name} must be a whole number, got "${raw}"`, 500);
  return n;
}

/**
 * The composition root: opens the data dir and wires the modules together. The gateway
 * and the CLI get their services from here and construct nothing themselves.
 */
export class Kiln {
  private constructor(
    readonly data: DataDir,
    readonly images: ImageStore,
    readonly snapshots: SnapshotStore,
    readonly functions: FunctionStore,
    readonly baseImages: BaseImageBuilder,
    readonly runtime: ContainerRuntime,
    readonly pool: WarmPool,
    readonly deployer: Deployer,
    readonly logs: LogStore,
    readonly asyncInvoker: AsyncInvoker,
    readonly telemetry: Telemetry,
    readonly secrets: SecretStore,
    /** The call sockets of instances with `calls`; the gateway serves them (`startGateway`). */
    readonly calls: CallListeners,
    readonly volumes: VolumeStore,
    /** `kiln image prune`, `kiln rmi`, the mark `system df` reports reclaimable by. */
    readonly pruner: ImagePruner,
    private readonly lock: DataDirLock,
  ) {}

  /**
   * The data dir, image store, snapshots, the build sandbox and base images only: what
   * `kiln runtimes build` needs.
   */
  static async openStores(options: KilnOptions = {}) {
    const data = options.dataDir ? new DataDir(path.resolve(options.dataDir)) : DataDir.fromEnv();
    await data.ensure();
    const images = new ImageStore(data.images);
    await images.init();
    const snapshots = new SnapshotStore(data.snapshots);
    const stateRoot =
      options.stateRoot ??
      path.join('/run/kiln', createHash('sha256').update(data.root).digest('hex').slice(0, 12));
    const mergeMemory = options.ksm ?? ksmFromEnv();
    const driver = await selectOciRuntime(stateRoot, undefined, {
      mergeMemory,
      sharedReaper: sharedReaperFromEnv() && kernelRunsSharedReaper(),
    });
    // Opted in, but nothing would merge: said once, at start, rather than silently.
    const off = mergeMemory ? await ksmdOff() : undefined;
    if (off) console.error(`kiln: KILN_KSM=1 has no effect: ${off}`);
    const deadlineMs = buildTimeoutFromEnv();
    // One set of leases for function and build containers: no two share a uid.
    const uids = new UidLeases('/run/kiln/uids', driver.stateRoot, parseUidRange(process.env.KILN_UID_RANGE));
    const sandbox = new OciBuildSandbox(driver, uids, data.tmp, { limits: deadlineMs ? { deadlineMs } : {} });
    const baseImages = new BaseImageBuilder(images, snapshots, data.tmp, sandbox, options.log);
    return { data, images, snapshots, baseImages, driver, sandbox, uids };
  }

  static async open(options: KilnOptions = {}): Promise<Kiln> {
    const { data, images, snapshots, baseImages, driver, sandbox, uids } = await Kiln.openStores(options);
    // Before the start-up cleanup below: it would stop another live gateway's containers.
    const lock = await DataDirLock.acquire(data.root);
    try {
      return await Kiln.wire(options, { data, images, snapshots, baseImages, driver, sandbox, uids }, lock);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private static async wire(
    options: KilnOptions,
    {
      data,
      images,
      snapshots,
      baseImages,
      driver,
      sandbox,
      uids,
    }: Awaited<ReturnType<typeof Kiln.openStores>>,
    lock: DataDirLock,
  ): Promise<Kiln> {
    const functions = new FunctionStore(data.functions);
    await functions.load();
    const runtime = new ContainerRuntime(data.instances, driver, await detectCgroupTree(), { uids });
    // Containers first (a build container holds mounts under tmp/), then the work dirs.
    await runtime.recover();
    await clearDebris(data);
    const logs = new LogStore(data.logs);
    const secrets = new SecretStore(data.secrets);
    await secrets.init();
    const calls = new CallListeners();
    const volumeUid = parseVolumeUid(process.env.KILN_VOLUME_UID, uids.range);
    const volumes = new VolumeStore(data.volumes, { uid: volumeUid, gid: volumeUid });
    await volumes.init();
    const launcher = new ImageLauncher(runtime, images, snapshots, baseImages, logs, secrets, calls, volumes);
    // One bound on container starts for the whole host: function instances and stem cells.
    const starts = new StartAdmission();
    const stemCells = new StemCellPool(launcher, options.stemCells ?? stemCellsFromEnv(), undefined, starts);
    const freezeAfterMs =
      options.freezeAfterMs === null ? undefined : (options.freezeAfterMs ?? freezeAfterFromEnv());
    const pool = new WarmPool(
      launcher,
      functions,
      stemCells,
      { region: regionFromEnv() },
      starts,
      freezeAfterMs,
      new CreatedContainers(launcher, options.precreated ?? precreatedFromEnv(), starts),
    );
    pool.startMaintenance();
    const registries = new Registries(images);
    const deployer = new Deployer(
      functions,
      images,
      snapshots,
      baseImages,
      pool,
      data.tmp,
      sandbox,
      undefined,
      registries,
      (spec) => {
        const names = (spec.volumes ?? []).map((m) => m.name);
        if (names.length === 0) return;
        if (!driver.idmappedMounts) throw volumesUnsupported(driver.name);
        volumes.require(names, spec.name);
      },
    );
    const telemetry = options.telemetry ?? new Telemetry();
    telemetry.metrics.watch({
      instances: () => pool.list(),
      queueDepths: () => pool.queueDepths(),
      isFunction: (name) => {
        try {
          return functions.get(name) !== undefined;
        } catch {
          return false;
        }
      },
      stemCellsReady: async () => {
        const ready: Record<string, number> = {};
        for (const cell of await pool.listStemCells()) ready[cell.language] = (ready[cell.language] ?? 0) + 1;
        return ready;
      },
    });
    // Each async attempt is traced, counted and logged as an invoke (src/traced-invoke.ts).
    const asyncTarget = {
      invoke: (name: string, req: ShimRequest) =>
        invokeAsyncAttempt(pool, telemetry, name, req, calls.depths),
    };
    const asyncInvoker = new AsyncInvoker(new AsyncStore(data.async), functions, asyncTarget, {
      backoffMs: options.asyncBackoffMs ?? asyncBackoffFromEnv(),
    });
    await asyncInvoker.open();
    const pruner = new ImagePruner(
      functions,
      images,
      snapshots,
      async () => pool.contentInUse(),
      (runtime) => {
        const language = runtime as LanguageName;
        return [BaseImageBuilder.ref(language), BaseImageBuilder.builderRef(language)];
      },
      () => baseImages.forgetBuilders(),
    );
    return new Kiln(
      data,
      images,
      snapshots,
      functions,
      baseImages,
      runtime,
      pool,
      deployer,
      logs,
      asyncInvoker,
      telemetry,
      secrets,
      calls,
      volumes,
      pruner,
      lock,
    );
  }

  /** `kiln system prune`: unused images and snapshots, logs no function owns, dead writers' debris. */
  pruneSystem(options: { all?: boolean } = {}): Promise<SystemPruneReport> {
    return pruneSystem(
      {
        pruner: this.pruner,
        images: this.images,
        snapshots: this.snapshots,
        functions: this.functions,
        logs: this.logs,
      },
      options,
    );
  }

  /** Remove a function: its versions and instances (the deployer), then its logs. */
  async removeFunction(name: string): Promise<void> {
    await this.deployer.remove(name);
    await this.logs.remove(name);
  }

  async close(): Promise<void> {
    this.asyncInvoker.close();
    await this.pool.shutdown();
    await this.runtime.close();
    await this.logs.flush();
    // The OCI runtime's state root is per data dir; with every container gone it is empty.
    await rmdir(this.runtime.driver.stateRoot).catch(() => undefined);
    await this.lock.release();
  }
}
