import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageStore } from './image-store.js';
import { listTree, packLayer, unpackLayer } from './layer-tar.js';

let dir: string;
let store: ImageStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-layer-'));
  store = new ImageStore(path.join(dir, 'store'));
  await store.init();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function makeTree(root: string, mtime: Date): Promise<void> {
  await mkdir(path.join(root, 'fn/lib'), { recursive: true });
  await writeFile(path.join(root, 'fn/index.mjs'), 'export default 1');
  await writeFile(path.join(root, 'fn/lib/b.txt'), 'b');
  for (const p of ['fn/index.mjs', 'fn/lib/b.txt', 'fn/lib', 'fn'])
    await utimes(path.join(root, p), mtime, mtime);
}

describe('layer tars', () => {
  it('lists a tree sorted, parents first', async () => {
    await makeTree(path.join(dir, 'a'), new Date());
    expect(await listTree(path.join(dir, 'a'))).toEqual(['fn', 'fn/index.mjs', 'fn/lib', 'fn/lib/b.txt']);
  });

  it('packs the same files to the same digest whatever their times', async () => {
    await makeTree(path.join(dir, 'a'), new Date('2020-01-01'));
    await makeTree(path.join(dir, 'b'), new Date('2024-06-01'));
    const a = await packLayer(store, path.join(dir, 'a'), { deterministic: true });
    const b = await packLayer(store, path.join(dir, 'b'), { deterministic: true });
    expect(a.digest).toBe(b.digest);
    await writeFile(path.join(dir, 'b/fn/lib/b.txt'), 'changed');
    const c = await packLayer(store, path.join(dir, 'b'), { deterministic: true });
    expect(c.digest).not.toBe(a.digest);
  });

  it('unpacks what it packed', async () => {
    await makeTree(path.join(dir, 'a'), new Date());
    const layer = await packLayer(store, path.join(dir, 'a'), { deterministic: true });
    const out = path.join(dir, 'out');
    await mkdir(out);
    await unpackLayer(store.blobPath(layer.digest), out);
    expect(await readFile(path.join(out, 'fn/lib/b.txt'), 'utf8')).toBe('b');
    expect(await listTree(out)).toEqual(await listTree(path.join(dir, 'a')));
  });
});

describe('whiteouts', () => {
  it('writes deletions as OCI .wh. entries and unpacks them as overlay whiteouts', async () => {
    const src = path.join(dir, 'w');
    await mkdir(path.join(src, 'etc'), { recursive: true });
    await writeFile(path.join(src, 'etc/new.conf'), 'n');
    const layer = await packLayer(store, src, { deterministic: true, deletions: ['etc/old.conf'] });
    // The marker was only there while packing.
    expect(await listTree(src)).toEqual(['etc', 'etc/new.conf']);
    const out = path.join(dir, 'wout');
    await mkdir(out);
    await unpackLayer(store.blobPath(layer.digest), out);
    const { lstat } = await import('node:fs/promises');
    const whiteout = await lstat(path.join(out, 'etc/old.conf'));
    expect(whiteout.isCharacterDevice()).toBe(true);
    expect(whiteout.rdev).toBe(0);
    expect(await listTree(out)).toEqual(['etc', 'etc/new.conf']);
  });
});
