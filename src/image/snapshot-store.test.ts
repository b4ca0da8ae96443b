import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageStore } from './image-store.js';
import { packLayer } from './layer-tar.js';
import { SnapshotStore } from './snapshot-store.js';
import type { Descriptor } from './types.js';

let dir: string;
let images: ImageStore;
let layer: Descriptor;
let source: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-snapshots-'));
  images = new ImageStore(path.join(dir, 'images'));
  await images.init();
  await mkdir(path.join(dir, 'snapshots'));
  source = path.join(dir, 'source');
  await mkdir(path.join(source, 'fn/lib'), { recursive: true });
  await writeFile(path.join(source, 'fn/index.mjs'), 'export default 1');
  await writeFile(path.join(source, 'fn/lib/b.txt'), 'b');
  layer = await packLayer(images, source, { deterministic: true });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A copy of the layer's source dir, as a deploy has it after packing. */
async function packedDir(name: string): Promise<string> {
  const copy = path.join(dir, name);
  await cp(source, copy, { recursive: true });
  return copy;
}

describe('SnapshotStore', () => {
  it('unpacks a layer once into snapshots/<hex>', async () => {
    const snapshots = new SnapshotStore(path.join(dir, 'snapshots'));
    const at = await snapshots.ensure(layer.digest, images.blobPath(layer.digest));
    expect(at).toBe(path.join(dir, 'snapshots', layer.digest.slice(7)));
    expect(await readFile(path.join(at, 'fn/lib/b.txt'), 'utf8')).toBe('b');
    expect(await snapshots.has(layer.digest)).toBe(true);
  });

  it('takes concurrent adopts and unpacks of one digest, from two stores on one dir, without an error', async () => {
    // Two stores stand for two Kiln processes: they share no in-memory state.
    const a = new SnapshotStore(path.join(dir, 'snapshots'));
    const b = new SnapshotStore(path.join(dir, 'snapshots'));
    const adopted = await Promise.all(Array.from({ length: 6 }, (_, i) => packedDir(`packed-${i}`)));
    const results = await Promise.all([
      ...adopted.map((d, i) => (i % 2 ? a : b).adopt(layer.digest, d)),
      a.ensure(layer.digest, images.blobPath(layer.digest)),
      b.ensure(layer.digest, images.blobPath(layer.digest)),
    ]);
    expect(new Set(results)).toEqual(new Set([a.path(layer.digest)]));
    // One snapshot, whole; no temp dir left; every adopted dir was taken or dropped.
    expect(await readdir(path.join(dir, 'snapshots'))).toEqual([layer.digest.slice(7)]);
    expect(await readFile(path.join(a.path(layer.digest), 'fn/index.mjs'), 'utf8')).toBe('export default 1');
    const left = await readdir(dir);
    expect(left.filter((n) => n.startsWith('packed-'))).toEqual([]);
  });
});
