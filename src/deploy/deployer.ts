import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BaseImages } from '../build/base-images.js';
import { DEFAULT_BUNDLE_LIMIT, inspectBundle, unpackBundle } from '../build/bundle.js';
import { pathExists } from '../disk.js';
import { KilnError } from '../errors.js';
import type { FunctionRecord, FunctionStore, FunctionVersion } from '../functions/function-store.js';
import { parseSpec, validateName, validateRuntime } from '../functions/spec.js';
import type { ImageStore } from '../image/image-store.js';
import { packLayer } from '../image/layer-tar.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import type { ImageConfig } from '../image/types.js';
import { languageNamed } from '../languages/registry.js';

export interface DeployRequest {
  /** The gzip tar of the function directory. */
  bundle: Uint8Array;
  /** Spec fields from the request (query, headers, form fields); they win over kiln.json. */
  fields: Record<string, unknown>;
}

export interface DeployResult {
  record: FunctionRecord;
  version: FunctionVersion;
  /** True when the function layer was already in the store (same code deployed before). */
  layerReused: boolean;
}

/** What the deployer needs from the pool: a trial start, and a switch to the new version. */
export interface DeployTarget {
  prepare(version: FunctionVersion): Promise<void>;
  retire(name: string, keepVersion?: number): Promise<void>;
}

/**
 * A deploy is one transaction: check the bundle, build the function layer, write an
 * image of [os, language, shim, function], start it once and load its handler
 * (`DeployTarget.prepare`), and only then record the version as active; after that its
 * image is tagged `fn/<name>:<version>` and the old version's instances are retired. Any
 * failure before the version is recorded leaves the function as it was, its previous
 * version still serving (an untagged image may be left in the store). Deploys of one
 * function run one at a time; deploys of different functions side by side.
 */
export class Deployer {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: FunctionStore,
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly baseImages: BaseImages,
    private readonly target: DeployTarget,
    private readonly tmpDir: string,
    private readonly bundleLimit = DEFAULT_BUNDLE_LIMIT,
  ) {}

  async deploy(req: DeployRequest): Promise<DeployResult> {
    // Fail fast on a bad name or runtime before any work on the bundle.
    if (req.fields.name !== undefined) validateName(req.fields.name);
    if (req.fields.runtime !== undefined) validateRuntime(req.fields.runtime);
    if (req.bundle.length === 0) {
      throw new KilnError(
        'invalid_bundle',
        'no bundle: send a gzip tar as the body, or a multipart "bundle" file',
      );
    }
    const raw = await inspectBundle(req.bundle, this.bundleLimit);
    const work = await mkdtemp(path.join(this.tmpDir, 'deploy-'));
    try {
      const src = await unpackBundle(raw, path.join(work, 'src'));
      const spec = parseSpec({ ...(await readKilnJson(src)), ...req.fields });
      return await this.serialized(spec.name, async () => {
        const layerRoot = path.join(work, 'layer');
        const fnDir = path.join(layerRoot, 'fn');
        await mkdir(fnDir, { recursive: true });
        const base = await this.baseImages.ensure(spec.runtime);
        const shimLayer = base.manifest.layers[base.manifest.layers.length - 1]!;
        const build = await languageNamed(spec.runtime).buildFunction({
          srcDir: src,
          outDir: fnDir,
          handler: spec.handler,
          shimDir: this.snapshots.path(shimLayer.digest),
        });
        const layer = await packLayer(this.images, layerRoot, { deterministic: true });
        const layerReused = await this.snapshots.has(layer.digest);
        if (!layerReused) await this.snapshots.adopt(layer.digest, layerRoot);
        const config: ImageConfig = {
          ...base.config,
          created: new Date().toISOString(),
          config: {
            ...base.config.config,
            // Outside Kiln (docker/podman run) the shim loads this handler at boot.
            Env: [
              ...(base.config.config.Env ?? []),
              `KILN_HANDLER=${build.handler}`,
              `KILN_FUNCTION=${spec.name}`,
            ],
          },
          rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.digest] },
        };
        const manifest = await this.images.putImage(config, [...base.manifest.layers, layer], {
          'dev.kiln.function': spec.name,
        });
        const version: Omit<FunctionVersion, 'createdAt'> = {
          version: this.store.nextVersion(spec.name),
          image: manifest.digest,
          layer: layer.digest,
          handler: build.handler,
          source: build.entry,
          spec,
        };
        await this.target.prepare({ ...version, createdAt: new Date().toISOString() });
        const record = await this.store.addActiveVersion(version);
        await this.images.tag(`fn/${spec.name}:${version.version}`, manifest);
        await this.target.retire(spec.name, version.version);
        return { record, version: this.store.active(spec.name), layerReused };
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async remove(name: string): Promise<void> {
    await this.serialized(name, async () => {
      const record = this.store.get(name);
      await this.target.retire(name);
      await this.store.remove(name);
      for (const v of record.versions) await this.images.untag(`fn/${name}:${v.version}`);
    });
  }

  /** One deploy per function at a time; deploys of different functions run side by side. */
  private async serialized<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    this.locks.set(name, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(name) === run) this.locks.delete(name);
    }
  }
}

async function readKilnJson(dir: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, 'kiln.json');
  if (!(await pathExists(file))) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new KilnError('invalid_spec', `kiln.json is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KilnError('invalid_spec', 'kiln.json must hold a JSON object');
  }
  return parsed as Record<string, unknown>;
}
