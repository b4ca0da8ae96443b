import { treeBytes } from '../disk.js';
import { KilnError } from '../errors.js';
import type { FunctionRecord } from '../functions/function-store.js';
import { type UsageLine, usageOf } from '../image/disk-usage.js';
import { markImages, type Swept, sweepUnmarked } from '../image/garbage-collection.js';
import type { ImageStore } from '../image/image-store.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import { type Descriptor, type Manifest, REF_NAME } from '../image/types.js';

/** Images and layers running containers use now: instances (and starts under way), stem cells. */
export interface ContentInUse {
  /** A draining instance of a removed function keeps its image until it ends. */
  instances: { function: string; version: number; image: string }[];
  /** Layers run without a function image: stem cells' base layers. */
  layers: string[];
}

export interface PruneReport {
  /** Refs taken out of the index (`rmi`, `prune --all`). */
  untagged: string[];
  blobs: Swept[];
  snapshots: Swept[];
  freedBytes: number;
}

/** A tagged image, as `kiln images` and `GET /images` list it. */
export interface ImageListing {
  name: string;
  digest: string;
  /** The manifest's layers and config, as stored (a pulled or loaded image's compressed sizes). */
  size: number;
  created?: string;
  /** Function versions that use it (its own image, or built on it): what `rmi` would refuse. */
  usedBy: ImageUser[];
}

/** One function's versions that use an image. */
export interface ImageUser {
  function: string;
  versions: number[];
}

/**
 * Collects what no function needs from the image store (`kiln image prune`, `kiln rmi`, the
 * image half of `kiln system prune`). The roots: every ref in the index, every version of
 * every function (a version can be rolled back to, so all are kept, not just the active
 * one), and what running containers use. Base, language and shim images are refs, and a
 * function's image holds their layers, so they stay; `all` also untags every ref no
 * function version uses (a version uses an image when its image is it, or holds all of its
 * layers: the base it was built on): unused base images, builders and pulled images go,
 * and the next deploy that needs one builds or pulls it again.
 * Every sweep runs under the store's prune lock (`StoreLeases.exclusive`): a deploy under
 * way finishes first, one that starts meanwhile waits.
 */
export class ImagePruner {
  constructor(
    private readonly functions: { list(): FunctionRecord[] },
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly inUse: () => Promise<ContentInUse>,
    /** The refs a language's deploys need (its base and builder images). */
    private readonly languageRefs: (runtime: string) => string[],
    /** Told when refs were untagged: what was remembered of them must be looked up again. */
    private readonly onUntagged: () => void = () => {},
  ) {}

  /** Every blob and snapshot digest the roots reach: what a prune keeps. */
  async mark(): Promise<Set<string>> {
    const index = await this.images.readIndex();
    const used = await this.inUse();
    const versions = this.functions.list().flatMap((r) => r.versions.map((v) => v.image));
    return markImages(this.images, {
      manifests: [
        ...index.manifests.map((m) => m.digest),
        ...versions,
        ...used.instances.map((i) => i.image),
      ],
      layers: used.layers,
    });
  }

  /** What blobs and snapshots take, and how much of it a prune (without `all`) frees. */
  async diskUsage(): Promise<{ images: UsageLine; snapshots: UsageLine }> {
    const marked = await this.mark();
    const blobs = (await this.images.listBlobs()).map((b) => ({ digest: b.digest, bytes: b.size }));
    const snapshots = await Promise.all(
      (await this.snapshots.list()).map(async (digest) => ({
        digest,
        bytes: await treeBytes(this.snapshots.path(digest)),
      })),
    );
    return { images: usageOf(blobs, marked), snapshots: usageOf(snapshots, marked) };
  }

  /** Every tagged image, by name, with the function versions that use it. */
  async list(): Promise<ImageListing[]> {
    const rows: ImageListing[] = [];
    for (const entry of (await this.images.readIndex()).manifests) {
      const name = entry.annotations?.[REF_NAME];
      if (!name) continue;
      const image = await this.images.getImage(entry.digest).catch(() => undefined);
      const size = image
        ? [image.manifest.config, ...image.manifest.layers].reduce((n, d) => n + d.size, 0)
        : 0;
      rows.push({
        name,
        digest: entry.digest,
        size,
        created: image?.config.created,
        usedBy: await this.usersOf(entry.digest),
      });
    }
    return rows.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Sweep what no root reaches; with `all`, untag first the refs no function version uses. */
  prune(options: { all?: boolean } = {}): Promise<PruneReport> {
    return this.images.leases.exclusive(() => this.pruneLocked(options));
  }

  /** `prune` for a caller that holds the prune lock already (`kiln system prune`). */
  async pruneLocked(options: { all?: boolean } = {}): Promise<PruneReport> {
    {
      const untagged: string[] = [];
      if (options.all) {
        const kept = await this.keptByAll();
        for (const entry of (await this.images.readIndex()).manifests) {
          const ref = entry.annotations?.[REF_NAME];
          if (!ref || (await kept(entry.digest))) continue;
          await this.images.untag(ref);
          untagged.push(ref);
        }
      }
      if (untagged.length > 0) this.onUntagged();
      const swept = await sweepUnmarked(this.images, this.snapshots, await this.mark());
      return { untagged, blobs: swept.blobs, snapshots: swept.snapshots, freedBytes: swept.bytes };
    }
  }

  /**
   * `kiln rmi`: untag an image (a ref, a manifest digest or a unique prefix of its hex) and
   * remove its blobs and snapshots nothing else reaches. 409 `image_in_use` while a version
   * of a function uses it, naming them.
   */
  remove(name: string): Promise<PruneReport & { image: string }> {
    return this.images.leases.exclusive(async () => {
      const digest = await this.find(name);
      const users = await this.usersOf(digest);
      if (users.length > 0) {
        const who = users.map(
          (u) => `${u.function} (version${u.versions.length > 1 ? 's' : ''} ${u.versions.join(', ')})`,
        );
        throw new KilnError(
          'image_in_use',
          `image ${name} is used by function ${who.join(', function ')}: kiln rm the function (or those versions' aliases and rollbacks) first`,
          409,
        );
      }
      const untagged: string[] = [];
      for (const entry of (await this.images.readIndex()).manifests) {
        const ref = entry.annotations?.[REF_NAME];
        if (entry.digest !== digest || !ref) continue;
        await this.images.untag(ref);
        untagged.push(ref);
      }
      if (untagged.length > 0) this.onUntagged();
      const manifest = await this.images.readJson<Partial<Manifest>>(digest).catch(() => undefined);
      const own = new Set([
        digest,
        manifest?.config?.digest,
        ...(manifest?.layers ?? []).map((l) => l.digest),
      ]);
      own.delete(undefined);
      const swept = await sweepUnmarked(this.images, this.snapshots, await this.mark(), own as Set<string>);
      return {
        image: digest,
        untagged,
        blobs: swept.blobs,
        snapshots: swept.snapshots,
        freedBytes: swept.bytes,
      };
    });
  }

  /** The manifest digest `name` means: a ref in the index, a digest, or a unique hex prefix (≥ 12). */
  private async find(name: string): Promise<string> {
    const byRef = await this.images.resolve(name);
    if (byRef) return byRef.digest;
    const hex = name.startsWith('sha256:') ? name.slice(7) : name;
    if (/^[0-9a-f]{12,64}$/.test(hex)) {
      const known = new Set((await this.images.readIndex()).manifests.map((m) => m.digest));
      for (const r of this.functions.list()) for (const v of r.versions) known.add(v.image);
      if (hex.length === 64 && (await this.images.has(`sha256:${hex}`))) known.add(`sha256:${hex}`);
      const matches = [...known].filter((d) => d.startsWith(`sha256:${hex}`));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1)
        throw new KilnError(
          'ambiguous_image',
          `${name} is the start of ${matches.length} image digests: give more of it`,
        );
    }
    throw new KilnError(
      'image_not_found',
      `no image ${name} in the image store (kiln images lists them)`,
      404,
    );
  }

  /** Function versions and running instances, each with the image it runs. */
  private async versionImages(): Promise<{ function: string; version: number; image: string }[]> {
    const versions = this.functions
      .list()
      .flatMap((r) => r.versions.map((v) => ({ function: r.name, version: v.version, image: v.image })));
    for (const i of (await this.inUse()).instances) {
      if (!versions.some((v) => v.function === i.function && v.version === i.version)) versions.push(i);
    }
    return versions;
  }

  /** Which of `holders` use an image: it is theirs, or theirs holds all of its layers (their base). */
  private async layerIndex(): Promise<(holder: string, digest: string) => Promise<boolean>> {
    const layersOf = new Map<string, Set<string> | undefined>();
    const read = async (digest: string) => {
      if (!layersOf.has(digest)) {
        const m = await this.images.readJson<Partial<Manifest>>(digest).catch(() => undefined);
        layersOf.set(digest, m?.layers ? new Set(m.layers.map((l: Descriptor) => l.digest)) : undefined);
      }
      return layersOf.get(digest);
    };
    return async (holder, digest) => {
      if (holder === digest) return true;
      const layers = await read(digest);
      if (!layers || layers.size === 0) return false;
      const held = await read(holder);
      return held !== undefined && [...layers].every((l) => held.has(l));
    };
  }

  /** Function versions (and running instances) that use the image `digest`, by function. */
  private async usersOf(digest: string): Promise<ImageUser[]> {
    const uses = await this.layerIndex();
    const users = new Map<string, number[]>();
    for (const v of await this.versionImages()) {
      if (await uses(v.image, digest)) users.set(v.function, [...(users.get(v.function) ?? []), v.version]);
    }
    return [...users].map(([fn, versions]) => ({ function: fn, versions }));
  }

  /**
   * What `prune --all` keeps tagged: refs a function version uses, and the base and builder
   * images of every language that has a function (the next deploy needs them).
   */
  private async keptByAll(): Promise<(digest: string) => Promise<boolean>> {
    const uses = await this.layerIndex();
    const holders = (await this.versionImages()).map((v) => v.image);
    const runtimes = new Set(this.functions.list().map((r) => r.runtime));
    for (const runtime of runtimes) {
      for (const ref of this.languageRefs(runtime)) {
        const found = await this.images.resolve(ref);
        if (found) holders.push(found.digest);
      }
    }
    return async (digest) => {
      for (const h of holders) if (await uses(h, digest)) return true;
      return false;
    };
  }
}
