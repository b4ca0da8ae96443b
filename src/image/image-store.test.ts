import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from './digest.js';
import { ImageStore } from './image-store.js';
import { packLayer } from './layer-tar.js';
import { MediaType } from './types.js';

let dir: string;
let store: ImageStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-store-'));
  store = new ImageStore(dir);
  await store.init();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('ImageStore', () => {
  it('lays out an OCI image layout', async () => {
    expect(JSON.parse(await readFile(path.join(dir, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    expect(await store.readIndex()).toEqual({ schemaVersion: 2, mediaType: MediaType.index, manifests: [] });
  });

  it('names a blob by the sha256 of its content', async () => {
    const desc = await store.putBytes('hello', 'text/plain');
    expect(desc.digest).toBe(sha256Digest('hello'));
    expect(desc.digest).toBe('sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(desc.size).toBe(5);
    expect((await store.readBlob(desc.digest)).toString()).toBe('hello');
  });

  it('stores the same content once, whichever way it arrives', async () => {
    await store.putBytes('same', 'text/plain');
    await store.putBytes('same', 'text/plain');
    const file = store.tempPath();
    await writeFile(file, 'same');
    await store.commitFile(file, 'text/plain');
    expect(await readdir(path.join(dir, 'blobs/sha256'))).toHaveLength(1);
    expect(await readdir(path.join(dir, 'ingest'))).toHaveLength(0);
  });

  it('commits several identical ingests at once to one blob, leaving no temp file', async () => {
    const files = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const file = store.tempPath();
        await writeFile(file, 'raced');
        return file;
      }),
    );
    const descriptors = await Promise.all([
      ...files.map((f) => store.commitFile(f, 'text/plain')),
      ...Array.from({ length: 4 }, () => store.putBytes('raced', 'text/plain')),
    ]);
    expect(new Set(descriptors.map((d) => d.digest))).toEqual(new Set([sha256Digest('raced')]));
    expect(await readdir(path.join(dir, 'blobs/sha256'))).toEqual([sha256Digest('raced').slice(7)]);
    expect(await readdir(path.join(dir, 'ingest'))).toEqual([]);
    expect((await store.readBlob(sha256Digest('raced'))).toString()).toBe('raced');
  });

  it('refuses content that does not hash to the digest its producer expects, and keeps none of it', async () => {
    const file = store.tempPath();
    await writeFile(file, 'cut sho');
    await expect(
      store.commitFile(file, 'text/plain', { expected: sha256Digest('cut short') }),
    ).rejects.toMatchObject({ code: 'digest_mismatch' });
    expect(await readdir(path.join(dir, 'blobs/sha256'))).toEqual([]);
    expect(await readdir(path.join(dir, 'ingest'))).toEqual([]);
    const ok = store.tempPath();
    await writeFile(ok, 'cut short');
    const desc = await store.commitFile(ok, 'text/plain', { expected: sha256Digest('cut short') });
    expect(desc.digest).toBe(sha256Digest('cut short'));
  });

  it('refuses a digest that is not sha256 hex, so no path can be smuggled in', async () => {
    expect(() => store.blobPath('sha256:../../etc/passwd')).toThrow(/not a sha256 digest/);
    await expect(store.readBlob(`sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({
      code: 'blob_not_found',
      status: 404,
    });
  });

  it('tags, resolves, retags and untags manifests in index.json', async () => {
    const layerDir = await mkdtemp(path.join(tmpdir(), 'kiln-layer-'));
    await writeFile(path.join(layerDir, 'a.txt'), 'a');
    const layer = await packLayer(store, layerDir, { deterministic: true });
    const config = {
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers' as const, diff_ids: [layer.digest] },
    };
    const m1 = await store.putImage(config, [layer]);
    const m2 = await store.putImage({ ...config, config: { Env: ['A=1'] } }, [layer]);
    await store.tag('fn/a:1', m1);
    await store.tag('fn/b:1', m2);
    expect((await store.resolve('fn/a:1'))?.digest).toBe(m1.digest);
    await store.tag('fn/a:1', m2);
    expect((await store.resolve('fn/a:1'))?.digest).toBe(m2.digest);
    expect((await store.readIndex()).manifests).toHaveLength(2);
    await store.untag('fn/a:1');
    expect(await store.resolve('fn/a:1')).toBeUndefined();
    const image = await store.getImage(m2.digest);
    expect(image.manifest.layers[0]?.digest).toBe(layer.digest);
    expect(image.config.config.Env).toEqual(['A=1']);
    await rm(layerDir, { recursive: true });
  });

  it('refuses a manifest whose layers are not committed', async () => {
    const missing = { mediaType: MediaType.layer, digest: `sha256:${'a'.repeat(64)}`, size: 1 };
    const config = {
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers' as const, diff_ids: [] },
    };
    await expect(store.putImage(config, [missing])).rejects.toMatchObject({ code: 'blob_not_found' });
  });
});
