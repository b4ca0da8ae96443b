import { mkdir, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markImages } from './garbage-collection.js';
import { ImageStore } from './image-store.js';
import { MediaType } from './types.js';

let dir: string;
let store: ImageStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-gc-'));
  store = new ImageStore(dir);
  await store.init();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function anImage(): Promise<{ manifest: string; config: string; layer: string }> {
  const layer = await store.putBytes('a layer', MediaType.layer);
  const manifest = await store.putImage(
    { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] } },
    [layer],
  );
  const { manifest: read } = await store.getImage(manifest.digest);
  return { manifest: manifest.digest, config: read.config.digest, layer: layer.digest };
}

describe('markImages', () => {
  it('marks a root manifest, its config and its layers', async () => {
    const image = await anImage();
    const marked = await markImages(store, { manifests: [image.manifest] });
    expect([...marked].sort()).toEqual([image.manifest, image.config, image.layer].sort());
  });

  it('takes a root that is not in the store as reaching nothing', async () => {
    const gone = `sha256:${'b'.repeat(64)}`;
    expect([...(await markImages(store, { manifests: [gone] }))]).toEqual([gone]);
  });

  it('stops with prune_failed, not an empty mark, when a root manifest cannot be read', async () => {
    const image = await anImage();
    // A real read error other than ENOENT: the manifest's path is a directory (EISDIR), as
    // an EIO or EMFILE would be, and must not make its layers look unused.
    const blob = store.blobPath(image.manifest);
    await unlink(blob);
    await mkdir(blob);
    await expect(markImages(store, { manifests: [image.manifest] })).rejects.toMatchObject({
      code: 'prune_failed',
      message: expect.stringContaining('EISDIR'),
    });
  });
});
