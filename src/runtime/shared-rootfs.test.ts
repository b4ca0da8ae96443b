import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mountPoints } from '../deploy/debris.js';
import { SharedRootfs } from './shared-rootfs.js';

let root: string;
let layers: string[];
let roots: SharedRootfs;

/** Where overlays are mounted now, from the host's mount table. */
async function overlaysUnder(dir: string): Promise<string[]> {
  return (await mountPoints()).filter((at) => at.startsWith(dir));
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kiln-shared-rootfs-'));
  layers = ['base', 'top'].map((d) => path.join(root, d));
  for (const l of layers) await mkdir(l);
  await writeFile(path.join(layers[0]!, 'a'), 'base');
  await writeFile(path.join(layers[1]!, 'b'), 'top');
  roots = new SharedRootfs(path.join(root, 'roots'));
});
afterEach(async () => {
  await roots.clear();
  await rm(root, { recursive: true, force: true });
});

describe('SharedRootfs', () => {
  it('mounts once per key and layers, and unmounts after the last release', async () => {
    const [one, two] = await Promise.all([roots.acquire('fn@1', layers), roots.acquire('fn@1', layers)]);
    expect(one.path).toBe(two.path);
    expect(await readFile(path.join(one.path, 'a'), 'utf8')).toBe('base');
    expect(await readFile(path.join(one.path, 'b'), 'utf8')).toBe('top');
    expect(await overlaysUnder(path.join(root, 'roots'))).toEqual([one.path]);

    await one.release();
    await one.release(); // a second release of one hold changes nothing
    expect(await overlaysUnder(path.join(root, 'roots'))).toEqual([one.path]);
    await two.release();
    expect(await overlaysUnder(path.join(root, 'roots'))).toEqual([]);
    expect(await readdir(path.join(root, 'roots'))).toEqual([]);

    // Mounted afresh at another path after the last release.
    const three = await roots.acquire('fn@1', layers);
    expect(three.path).not.toBe(one.path);
    await three.release();
  });

  it('never shares across keys, even over the same layers', async () => {
    const a = await roots.acquire('fn@1', layers);
    const b = await roots.acquire('other@1', layers);
    expect(a.path).not.toBe(b.path);
    expect((await overlaysUnder(path.join(root, 'roots'))).sort()).toEqual([a.path, b.path].sort());
    await a.release();
    await b.release();
  });

  it('fails every waiter of a failed mount, and the next acquire mounts again', async () => {
    const missing = [layers[0]!, path.join(root, 'no-such-layer')];
    const got = await Promise.allSettled([roots.acquire('fn@1', missing), roots.acquire('fn@1', missing)]);
    expect(got.map((g) => g.status)).toEqual(['rejected', 'rejected']);
    expect(got[0]).toMatchObject({ reason: { code: 'rootfs_mount_failed' } });
    expect(await readdir(path.join(root, 'roots'))).toEqual([]);
    const ok = await roots.acquire('fn@1', layers);
    expect(await readFile(path.join(ok.path, 'b'), 'utf8')).toBe('top');
    await ok.release();
  });

  it('clears the mounts a killed gateway left', async () => {
    await roots.acquire('fn@1', layers);
    await new SharedRootfs(path.join(root, 'roots')).clear();
    expect(await overlaysUnder(path.join(root, 'roots'))).toEqual([]);
    expect(await readdir(path.join(root, 'roots'))).toEqual([]);
  });
});
