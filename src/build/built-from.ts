import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../disk.js';
import { parseDigest } from '../image/digest.js';
import type { Descriptor, HistoryEntry } from '../image/types.js';
import { type DebianPackage, packagesAdded, takeInventory } from './layer-inventory.js';
import type { BuildSandbox } from './sandbox.js';

/** An npm registry package a layer was unpacked from. */
export interface NpmPackage {
  name: string;
  version: string;
}

/**
 * What a base layer was built from (issue 14): debootstrap and apt output is not
 * reproducible (file mtimes, generated caches, whatever version the mirror had that day),
 * so two hosts' os and language layers have different digests; this record says which
 * packages each holds, so a user can tell a mirror's update from a build's noise.
 */
export interface BuiltFrom {
  /** The layer's digest (its tar's: the config's diff_id). */
  layer: string;
  /** The ref its single-layer image is cached under (`kiln/os:bookworm`). */
  ref: string;
  /** How it was made, as in the image config's history (`apt-get install python3`). */
  how: string;
  /** The Debian packages this layer installed or changed (the os layer: all of them). */
  debian: DebianPackage[];
  /** npm packages it was unpacked from (node's binary, the builder's esbuild). */
  npm: NpmPackage[];
  /** `/etc/apt/sources.list` lines (the os layer): the mirror it came from. */
  aptSources?: string[];
  /** The runtime's own `--version` in this layer (`v22.23.3`, `Python 3.11.2`, `openjdk 17.0.…`). */
  runtime?: { command: string; version: string };
  /** When the record was taken (it may be later than the layer: a layer built before records were kept gets one at its next use). */
  recorded: string;
}

/** How a base layer was made, and what to ask it: the input of a record. */
export interface BaseLayerSource {
  ref: string;
  how: string;
  /** `debian`: list what dpkg has (the os and apt layers); `npm`: the packages are `npm`. */
  kind: 'debian' | 'npm';
  npm?: NpmPackage[];
  /** A program in the layer whose `--version` is recorded (the language's runtime). */
  runtimeCommand?: string;
}

/**
 * The records, one JSON file per layer at `images/built-from/<hex of the layer>`, beside
 * the blobs they describe; each written whole or not at all (`writeFileAtomic`). A layer
 * with no record (built before records were kept, or its listing failed) gets one the next
 * time its base image is ensured.
 */
export class BuiltFromStore {
  private readonly dir: string;

  constructor(imagesRoot: string) {
    this.dir = path.join(imagesRoot, 'built-from');
  }

  async get(layerDigest: string): Promise<BuiltFrom | undefined> {
    try {
      return JSON.parse(await readFile(this.recordPath(layerDigest), 'utf8')) as BuiltFrom;
    } catch {
      return undefined;
    }
  }

  async put(record: BuiltFrom): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.recordPath(record.layer), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** Where a layer's record lives (a test removes it to see it taken again). */
  recordPath(layerDigest: string): string {
    return path.join(this.dir, `${parseDigest(layerDigest)}.json`);
  }
}

/**
 * Takes the records of base layers as they are built or first met: the layer's stack is
 * listed in the build sandbox (`takeInventory`) and compared with the stack below it, so
 * each record holds what that layer added.
 */
export class BuiltFromRecorder {
  private readonly pending = new Map<string, Promise<BuiltFrom | undefined>>();

  constructor(
    readonly store: BuiltFromStore,
    private readonly sandbox: BuildSandbox,
    private readonly snapshotPath: (digest: string) => string,
    private readonly tmpDir: string,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * The record of `layer` over `below` (bottom first), taken now when there is none. A
   * failure to take one is logged, not thrown: the layer is as good without it.
   */
  ensure(layer: Descriptor, below: Descriptor[], source: BaseLayerSource): Promise<BuiltFrom | undefined> {
    let p = this.pending.get(layer.digest);
    if (!p) {
      p = this.getOrTake(layer, below, source).finally(() => this.pending.delete(layer.digest));
      this.pending.set(layer.digest, p);
    }
    return p;
  }

  private async getOrTake(
    layer: Descriptor,
    below: Descriptor[],
    source: BaseLayerSource,
  ): Promise<BuiltFrom | undefined> {
    const found = await this.store.get(layer.digest);
    if (found) return found;
    try {
      const stack = [...below, layer].map((l) => this.snapshotPath(l.digest));
      const after = await takeInventory(this.sandbox, stack, this.tmpDir, source.runtimeCommand);
      let debian: DebianPackage[] = [];
      if (source.kind === 'debian') {
        const before = below.length
          ? (await takeInventory(this.sandbox, stack.slice(0, -1), this.tmpDir)).debian
          : [];
        debian = packagesAdded(before, after.debian);
      }
      const record: BuiltFrom = {
        layer: layer.digest,
        ref: source.ref,
        how: source.how,
        debian,
        npm: source.npm ?? [],
        ...(below.length === 0 ? { aptSources: after.aptSources } : {}),
        ...(source.runtimeCommand && after.runtimeVersion
          ? { runtime: { command: source.runtimeCommand, version: after.runtimeVersion } }
          : {}),
        recorded: new Date().toISOString(),
      };
      await this.store.put(record);
      this.log(`${source.ref}: recorded ${describeBuiltFrom(record)}`);
      return record;
    } catch (err) {
      this.log(`${source.ref}: could not record what it was built from: ${(err as Error).message}`);
      return undefined;
    }
  }
}

/** One line: `88 Debian packages; Python 3.11.2`. */
export function describeBuiltFrom(record: BuiltFrom): string {
  const parts: string[] = [];
  if (record.debian.length) parts.push(`${record.debian.length} Debian packages`);
  if (record.npm.length) parts.push(`npm ${record.npm.map((p) => `${p.name}@${p.version}`).join(' ')}`);
  if (record.runtime) parts.push(record.runtime.version);
  return parts.join('; ') || 'no packages';
}

/**
 * The layer's history entry in a base image's config (image-spec config.md: `created_by`
 * how, `comment` free text): the package list travels with a pushed image, so
 * `skopeo inspect --config` on two hosts' images shows why their digests differ. No
 * `created` time: the config, and so the base image's digest, stays the same for the same
 * layers.
 */
export function builtFromHistory(how: string, record: BuiltFrom | undefined): HistoryEntry {
  if (!record) return { created_by: how };
  const list = [
    ...record.debian.map((p) => `${p.name} ${p.version}`),
    ...record.npm.map((p) => `${p.name}@${p.version}`),
  ];
  const runtime = record.runtime ? `${record.runtime.version}; ` : '';
  return { created_by: how, comment: `${runtime}${list.join(', ')}` };
}
