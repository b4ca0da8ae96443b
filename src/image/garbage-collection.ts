import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { syncPath, treeBytes } from '../disk.js';
import { KilnError } from '../errors.js';
import type { ImageStore } from './image-store.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { Descriptor } from './types.js';

/**
 * Mark and sweep over the image store, as containerd's garbage collector does: the roots
 * are manifests someone needs (the index's refs, every function version's image, the
 * images of running instances) and layers in use on their own (a stem cell's base layers);
 * a blob or a snapshot no root reaches is swept. The caller holds the store's prune lock
 * (`StoreLeases.exclusive`), so no writer has content it has not referenced yet.
 */

/** What a root reaches: the manifest (or index), its config and layers, recursively through indexes. */
export async function markImages(
  images: ImageStore,
  roots: { manifests: Iterable<string>; layers?: Iterable<string> },
): Promise<Set<string>> {
  const marked = new Set<string>(roots.layers ?? []);
  const visit = async (digest: string): Promise<void> => {
    if (marked.has(digest)) return;
    marked.add(digest);
    const object = await images.readJson<ImageObject>(digest).catch(missingOrFatal(digest));
    if (!object || typeof object !== 'object') return;
    if (object.config?.digest) marked.add(object.config.digest);
    for (const layer of object.layers ?? []) marked.add(layer.digest);
    for (const child of object.manifests ?? []) await visit(child.digest);
  };
  for (const digest of roots.manifests) await visit(digest);
  return marked;
}

/**
 * A root that is not in the store reaches nothing (a version whose image was swept). Any
 * other read error (EMFILE, EIO, a corrupt manifest) aborts the prune: taken as "reaches
 * nothing", it would sweep the layers of an image still in use.
 */
function missingOrFatal(digest: string): (err: unknown) => undefined {
  return (err) => {
    if (err instanceof KilnError && err.code === 'blob_not_found') return undefined;
    const why = err instanceof Error ? err.message : String(err);
    throw new KilnError(
      'prune_failed',
      `cannot tell what manifest ${digest} reaches (${why}): nothing is swept`,
      500,
    );
  };
}

/** A manifest or an image index: the fields that point at other blobs. */
interface ImageObject {
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

export interface Swept {
  digest: string;
  bytes: number;
}

export interface SweepResult {
  blobs: Swept[];
  snapshots: Swept[];
  bytes: number;
}

/**
 * Remove every blob and snapshot not in `marked` (or, with `only`, those of `only` not in
 * `marked`: `kiln rmi` sweeps one image's content). A snapshot is first renamed out of its
 * digest's name, so no start ever mounts one half removed. Records naming a swept blob
 * (`gzip/`, `sources/`, `built-from/`) go with it.
 */
export async function sweepUnmarked(
  images: ImageStore,
  snapshots: SnapshotStore,
  marked: ReadonlySet<string>,
  only?: ReadonlySet<string>,
): Promise<SweepResult> {
  const result: SweepResult = { blobs: [], snapshots: [], bytes: 0 };
  const doomed = (digest: string) => !marked.has(digest) && (!only || only.has(digest));
  for (const blob of await images.listBlobs()) {
    if (!doomed(blob.digest)) continue;
    await unlink(images.blobPath(blob.digest)).catch(ignoreMissing);
    result.blobs.push({ digest: blob.digest, bytes: blob.size });
    result.bytes += blob.size;
  }
  if (result.blobs.length) await syncPath(path.dirname(images.blobPath(result.blobs[0]!.digest)));
  for (const digest of await snapshots.list()) {
    if (!doomed(digest)) continue;
    const bytes = await treeBytes(snapshots.path(digest));
    const gone = path.join(snapshots.root, `.tmp-gc-${randomBytes(6).toString('hex')}`);
    await rename(snapshots.path(digest), gone);
    await rm(gone, { recursive: true, force: true });
    result.snapshots.push({ digest, bytes });
    result.bytes += bytes;
  }
  if (result.snapshots.length) await syncPath(snapshots.root);
  await dropDanglingRecords(images);
  return result;
}

/** Records about a blob (`gzip/`, `sources/`, `built-from/`) whose blob is gone: they describe nothing. */
async function dropDanglingRecords(images: ImageStore): Promise<void> {
  const gzipDir = path.join(images.root, 'gzip');
  for (const hex of await readdir(gzipDir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}$/.test(hex)) continue;
    const gz = (await readFile(path.join(gzipDir, hex), 'utf8').catch(() => '')).trim();
    const gzOk = /^sha256:[0-9a-f]{64}$/.test(gz) && (await images.has(gz));
    if (!gzOk || !(await images.has(`sha256:${hex}`))) await rm(path.join(gzipDir, hex), { force: true });
  }
  // `sources/<hex>` (registry mount hints) and `built-from/<hex>.json` (src/build/built-from.ts).
  for (const [dir, pattern] of [
    ['sources', /^([0-9a-f]{64})$/],
    ['built-from', /^([0-9a-f]{64})\.json$/],
  ] as const) {
    const recordDir = path.join(images.root, dir);
    for (const name of await readdir(recordDir).catch(() => [] as string[])) {
      const hex = pattern.exec(name)?.[1];
      if (hex && !(await images.has(`sha256:${hex}`))) await rm(path.join(recordDir, name), { force: true });
    }
  }
}

/** Snapshot dirs a maker left half made (`.tmp-*`) more than `olderThanMs` ago. */
export async function staleSnapshotTemps(snapshots: SnapshotStore, olderThanMs: number): Promise<number> {
  let removed = 0;
  for (const name of await readdir(snapshots.root).catch(() => [] as string[])) {
    if (!name.startsWith('.tmp-')) continue;
    const dir = path.join(snapshots.root, name);
    const st = await stat(dir).catch(() => undefined);
    if (!st || Date.now() - st.mtimeMs < olderThanMs) continue;
    await rm(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
