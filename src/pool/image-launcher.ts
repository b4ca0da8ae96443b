import { cp } from 'node:fs/promises';
import path from 'node:path';
import type { BaseImages } from '../build/base-images.js';
import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import { DEFAULT_CPUS } from '../functions/spec.js';
import type { ImageStore } from '../image/image-store.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import type { Image } from '../image/types.js';
import { type LanguageName, languageNamed } from '../languages/registry.js';
import { InstanceLog } from '../logs/instance-log.js';
import type { LogStore } from '../logs/log-store.js';
import type { Container } from '../runtime/container.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import type { ContainerLimits } from '../runtime/oci-spec.js';
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
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly baseImages: BaseImages,
    private readonly logs: LogStore,
  ) {}

  async startFunction(fn: FunctionVersion): Promise<Container> {
    // Lambda's runtime variables, as a stem cell of the language has them, then the function's
    // own (a cold process sees NODE_OPTIONS and the like from its start); the rest of Lambda's
    // environment comes with /init on both paths (lambda-environment.ts).
    const container = await this.startImage(await this.images.getImage(fn.image), {
      env: envList({ ...runtimeEnvironment(fn.spec.runtime), ...fn.spec.env }),
      hostname: fn.spec.name,
      limits: limitsOf(fn),
    });
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
    });
    return { container, baseLayers: base.manifest.layers.map((l) => l.digest) };
  }

  async baseLayersOf(fn: FunctionVersion): Promise<string[]> {
    const image = await this.images.getImage(fn.image);
    // A function's image is its base image's layers plus the function layer on top.
    return image.manifest.layers.slice(0, -1).map((l) => l.digest);
  }

  async specialize(container: Container, fn: FunctionVersion): Promise<void> {
    if (!container.fnDir) {
      throw new KilnError('specialize_failed', `container ${container.id} has no /fn to take code`, 500);
    }
    // The function layer holds `fn/`; the stem cell's `/fn` is a read-only bind mount of fnDir.
    const layerDir = await this.snapshots.ensure(fn.layer, this.images.blobPath(fn.layer));
    await cp(path.join(layerDir, 'fn'), container.fnDir, { recursive: true, verbatimSymlinks: true });
    await container.cgroup.setLimits(limitsOf(fn));
    this.keepLogs(container, fn);
  }

  private keepLogs(container: Container, fn: FunctionVersion): void {
    const log = new InstanceLog(this.logs, {
      function: fn.spec.name,
      version: fn.version,
      instance: container.id,
    });
    container.output.attach(log);
  }

  private async startImage(
    image: Image,
    options: { env: string[]; hostname: string; limits: ContainerLimits; mountFnDir?: boolean },
  ): Promise<Container> {
    const layers = await Promise.all(
      image.manifest.layers.map((l) => this.snapshots.ensure(l.digest, this.images.blobPath(l.digest))),
    );
    const config = image.config.config;
    return this.runtime.start({
      layers,
      args: [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])],
      // Over the image's own Env: a later entry replaces an earlier one of the same name
      // (a process given both would see whichever its libc finds first).
      env: mergeEnv([...(config.Env ?? []), ...options.env]),
      cwd: config.WorkingDir || '/fn',
      hostname: options.hostname,
      limits: options.limits,
      mountFnDir: options.mountFnDir,
    });
  }
}

function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** `NAME=value` entries, each name once, the last value of a name winning, in first-seen order. */
export function mergeEnv(entries: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    byName.set(eq < 0 ? entry : entry.slice(0, eq), entry);
  }
  return [...byName.values()];
}
