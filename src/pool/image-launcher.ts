import { chown, cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BaseImages } from '../build/base-images.js';
import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import { DEFAULT_CPUS } from '../functions/spec.js';
import { mergeEnv } from '../image/image-env.js';
import type { ImageStore } from '../image/image-store.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import type { Image } from '../image/types.js';
import { type LanguageName, languageNamed } from '../languages/registry.js';
import { InstanceLog } from '../logs/instance-log.js';
import type { LogStore } from '../logs/log-store.js';
import type { Container } from '../runtime/container.js';
import {
  CALL_SOCKET_NAME,
  type ContainerRuntime,
  type CreatedContainer,
  type StartRequest,
  type VolumeBind,
} from '../runtime/container-runtime.js';
import type { ContainerLimits } from '../runtime/oci-spec.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { VolumeStore } from '../volumes/volume-store.js';
import type { CallListeners } from './call-listeners.js';
import type { ContainerLauncher, StemCellStart } from './container-launcher.js';
import { runtimeEnvironment } from './lambda-environment.js';

/**
 * Generous until specialization sets the function's own limits, but with a CPU quota: a
 * cell warms up on one core at most, like a function's default.
 */
const STEM_LIMITS: ContainerLimits = { memoryBytes: 512 * 1024 * 1024, pids: 256, cpus: DEFAULT_CPUS };

export function limitsOf(fn: FunctionVersion): ContainerLimits {
  // A version recorded before `cpus` had a default gets the default too.
  return {
    memoryBytes: fn.spec.memoryMb * 1024 * 1024,
    pids: fn.spec.pids,
    cpus: fn.spec.cpus ?? DEFAULT_CPUS,
  };
}

/**
 * Starts containers from images in the image store: layers unpacked to snapshots (once),
 * then run the way the image's config says (Entrypoint + Cmd, Env, WorkingDir). Cold
 * instances run a function's image; stem cells run a language's base image and get the
 * function layer's `fn/` copied in when specialized. A container's output goes to the
 * function's logs from the moment it is the function's (a stem cell's, before that, to
 * no function: only its in-memory tail keeps it).
 */
export class ImageLauncher implements ContainerLauncher {
  /** `baseLayersOf` by image digest: a few digests per image a function version ran from. */
  private readonly baseLayersByImage = new Map<string, string[]>();

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly baseImages: BaseImages,
    private readonly logs: LogStore,
    /** Where the secrets functions name are kept; without it a function naming one cannot start. */
    private readonly secrets?: SecretStore,
    /** The gateway's call sockets; without it a function with `calls` cannot start. */
    private readonly calls?: CallListeners,
    /** Where the volumes functions mount are kept; without it a function naming one cannot start. */
    private readonly volumes?: VolumeStore,
  ) {}

  async startFunction(fn: FunctionVersion): Promise<Container> {
    const container = await this.makeFunctionContainer(
      fn,
      (image, options) => this.startImage(image, options),
      (made) => made,
    );
    return this.finishStart(container, fn);
  }

  async createFunction(fn: FunctionVersion): Promise<CreatedContainer> {
    const made = await this.makeFunctionContainer(
      fn,
      async (image, options) => this.runtime.create(await this.startRequest(image, options)),
      (created) => created.container,
    );
    return {
      container: made.container,
      createdAt: made.createdAt,
      discard: () => made.discard(),
      // The secrets, the call socket and the logs as a cold start has them, at the start:
      // a secret changed since the create is read now.
      start: async () => this.finishStart(await made.start(), fn),
    };
  }

  /**
   * A container of the version's own image, run now or created ahead by `make`, holding
   * the version's volumes from before the mount until it is gone (`volume rm` waits).
   */
  private async makeFunctionContainer<T>(
    fn: FunctionVersion,
    make: (image: Image, options: ImageStartOptions) => Promise<T>,
    containerOf: (made: T) => Container,
  ): Promise<T> {
    const held = this.holdVolumes(fn);
    let made: T;
    try {
      // Lambda's runtime variables, as a stem cell of the language has them, then the function's
      // own (a cold process sees NODE_OPTIONS and the like from its start); the rest of Lambda's
      // environment comes with /init on both paths (lambda-environment.ts).
      made = await make(await this.images.getImage(fn.image), {
        env: envList({ ...runtimeEnvironment(fn.spec.runtime), ...fn.spec.env }),
        hostname: fn.spec.name,
        limits: limitsOf(fn),
        mountSecretsDir: true,
        mountCallsDir: (fn.spec.calls ?? []).length > 0,
        volumes: held?.binds,
        // One rootfs mount for the version's instances, its trial start's included (which has
        // no createdAt of the record yet); a stem cell, which may serve any tenant's function,
        // always has its own (shared-rootfs.ts).
        shareRootfs: `${fn.spec.name}@${fn.version}`,
      });
    } catch (err) {
      held?.release();
      throw err;
    }
    if (held) void containerOf(made).exited.then(held.release, held.release);
    return made;
  }

  /** A running function container's secrets, call socket and logs, before `/init`. */
  private async finishStart(container: Container, fn: FunctionVersion): Promise<Container> {
    try {
      await this.placeSecrets(container, fn);
      await this.openCallSocket(container, fn);
    } catch (err) {
      await container.stop();
      throw err;
    }
    this.keepLogs(container, fn);
    return container;
  }

  async startStemCell(language: LanguageName): Promise<StemCellStart> {
    const base = await this.baseImages.ensure(language);
    const container = await this.startImage(base, {
      env: [...envList(runtimeEnvironment(language)), ...languageNamed(language).stemCellEnv],
      hostname: 'kiln',
      limits: STEM_LIMITS,
      mountFnDir: true,
      mountSecretsDir: true,
      // Empty until the cell is specialized for a function with `calls`.
      mountCallsDir: true,
    });
    return { container, baseLayers: base.manifest.layers.map((l) => l.digest) };
  }

  async baseLayersOf(fn: FunctionVersion): Promise<string[]> {
    // An image digest names its manifest's bytes, so its layers never change: read once.
    let layers = this.baseLayersByImage.get(fn.image);
    if (!layers) {
      const image = await this.images.getImage(fn.image);
      // A function's image is its base image's layers plus the function layer on top.
      layers = image.manifest.layers.slice(0, -1).map((l) => l.digest);
      this.baseLayersByImage.set(fn.image, layers);
    }
    return layers;
  }

  async specialize(container: Container, fn: FunctionVersion): Promise<void> {
    // A running container's mounts are fixed: a function with volumes starts cold (StemCellPool).
    if (fn.spec.volumes?.length) {
      throw new KilnError(
        'specialize_failed',
        `${fn.spec.name} mounts volumes: stem cells cannot take them`,
        500,
      );
    }
    if (!container.fnDir) {
      throw new KilnError('specialize_failed', `container ${container.id} has no /fn to take code`, 500);
    }
    // The function layer holds `fn/`; the stem cell's `/fn` is a read-only bind mount of fnDir.
    const layerDir = await this.snapshots.ensure(fn.layer, this.images.blobPath(fn.layer));
    await cp(path.join(layerDir, 'fn'), container.fnDir, { recursive: true, verbatimSymlinks: true });
    await container.cgroup.setLimits(limitsOf(fn));
    await this.placeSecrets(container, fn);
    await this.openCallSocket(container, fn);
    this.keepLogs(container, fn);
  }

  /**
   * For a function with `calls`: the gateway's call socket for this instance in its
   * `CALL_SOCKET_DIR` (a read-only bind mount of a host dir of its own), before `/init`
   * loads the handler; it closes when the container exits, and the dir goes with the
   * instance's (after a crash, `ContainerRuntime.recover` removes it).
   */
  private async openCallSocket(container: Container, fn: FunctionVersion): Promise<void> {
    const calls = fn.spec.calls ?? [];
    if (calls.length === 0) return;
    if (!container.callsDir || !this.calls) {
      throw new KilnError(
        'specialize_failed',
        `container ${container.id} has no ${CALL_SOCKET_NAME} to make calls through`,
        500,
      );
    }
    const listener = await this.calls.listen(
      path.join(container.callsDir, CALL_SOCKET_NAME),
      { instance: container.id, function: fn.spec.name, version: fn.version, calls },
      container.uid,
    );
    const close = () => listener.close();
    void container.exited.then(close, close);
  }

  /**
   * The function's secrets into the instance's `/run/secrets` (a read-only bind mount of a
   * host dir of its own), each a 0400 file of the instance's uid, before `/init` loads the
   * handler: in no image layer, and no other instance's uid can read them.
   */
  private async placeSecrets(container: Container, fn: FunctionVersion): Promise<void> {
    const names = fn.spec.secrets ?? [];
    if (names.length === 0) return;
    if (!container.secretsDir || !this.secrets) {
      throw new KilnError(
        'specialize_failed',
        `container ${container.id} has no /run/secrets to take secrets`,
        500,
      );
    }
    for (const name of names) {
      const file = path.join(container.secretsDir, name);
      const value = await this.secrets.read(name).catch(() => {
        throw new KilnError(
          'secret_not_found',
          `${fn.spec.name} names secret "${name}", which does not exist: kiln secret create ${name}`,
        );
      });
      await writeFile(file, value, { mode: 0o400, flag: 'wx' });
      await chown(file, container.uid, container.uid);
    }
  }

  /** The version's volumes held for one instance, as the runtime binds them; undefined when it has none. */
  private holdVolumes(fn: FunctionVersion): { binds: VolumeBind[]; release: () => void } | undefined {
    const mounts = fn.spec.volumes ?? [];
    if (mounts.length === 0) return undefined;
    if (!this.volumes) {
      throw new KilnError('volume_not_found', `${fn.spec.name} mounts volumes, and this gateway keeps none`);
    }
    const { sources, release } = this.volumes.hold(
      mounts.map((m) => m.name),
      { function: fn.spec.name, version: fn.version },
    );
    const binds = mounts.map((m, i) => ({
      source: sources[i]!.dir,
      destination: m.path,
      readonly: m.readOnly === true,
      owner: { uid: sources[i]!.uid, gid: sources[i]!.gid },
    }));
    return { binds, release };
  }

  private keepLogs(container: Container, fn: FunctionVersion): void {
    const log = new InstanceLog(this.logs, {
      function: fn.spec.name,
      version: fn.version,
      instance: container.id,
    });
    container.output.attach(log);
  }

  private async startImage(image: Image, options: ImageStartOptions): Promise<Container> {
    return this.runtime.start(await this.startRequest(image, options));
  }

  /** The runtime's request for an image: its layers as snapshots, run the way its config says. */
  private async startRequest(image: Image, options: ImageStartOptions): Promise<StartRequest> {
    const layers = await Promise.all(
      image.manifest.layers.map((l) => this.snapshots.ensure(l.digest, this.images.blobPath(l.digest))),
    );
    const config = image.config.config;
    return {
      layers,
      args: [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])],
      // Over the image's own Env: a later entry replaces an earlier one of the same name
      // (a process given both would see whichever its libc finds first).
      env: mergeEnv([...(config.Env ?? []), ...options.env]),
      cwd: config.WorkingDir || '/fn',
      hostname: options.hostname,
      limits: options.limits,
      mountFnDir: options.mountFnDir,
      mountSecretsDir: options.mountSecretsDir,
      mountCallsDir: options.mountCallsDir,
      volumes: options.volumes,
      shareRootfs: options.shareRootfs,
    };
  }
}

interface ImageStartOptions {
  env: string[];
  hostname: string;
  limits: ContainerLimits;
  mountFnDir?: boolean;
  mountSecretsDir?: boolean;
  mountCallsDir?: boolean;
  volumes?: VolumeBind[];
  shareRootfs?: string;
}

function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}
