import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { listTree } from '../image/layer-tar.js';
import type { Recipe } from '../languages/recipe.js';

/** Where every shim lives in an image. */
export const SHIM_DIR = 'opt/kiln/shim';

/** Where a builder image's own programs live (`runtimes/<lang>/build/`): not the shim. */
export const BUILDER_FILES_DIR = 'build';

/** C sources a shim's build compiles (`runtimes/<lang>/native/`): they make files of the shim, they are not its files. */
export const NATIVE_SOURCES_DIR = 'native';

const isNativeSource = (rel: string) => rel.split('/')[0] === NATIVE_SOURCES_DIR;

/** Files of `runtimes/<lang>/` that are the shim: not its recipe, builder files, C sources, tests or bytecode caches. */
export function isShimSource(rel: string): boolean {
  return (
    rel !== 'recipe.json' &&
    rel.split('/')[0] !== BUILDER_FILES_DIR &&
    !isNativeSource(rel) &&
    !/\.test\.(mjs|py)$/.test(rel) &&
    !rel.split('/').includes('__pycache__')
  );
}

/**
 * How shim layers are made, in the cache key: bump it when the build code changes what a
 * shim layer holds, so cached layers of the old form are not reused (2: the Java shim's
 * jar has the epoch mtime its AppCDS archive records; 3: the /run/secrets mount point).
 */
const SHIM_LAYER_FORMAT = 3;

/** A digest of a shim's sources, C sources and recipe (and the layer format): the cache key of its layer. */
export async function shimSourceDigest(srcDir: string, recipe: Recipe): Promise<string> {
  const hash = createHash('sha256').update(`${SHIM_LAYER_FORMAT}\n${JSON.stringify(recipe)}`);
  for (const rel of await listTree(srcDir)) {
    if (!isShimSource(rel) && !isNativeSource(rel)) continue;
    hash.update(rel);
    const content = await readFile(path.join(srcDir, rel)).catch(() => undefined);
    if (content) hash.update(content);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The dirs every shim layer has: the shim's home and the mount points every instance needs
 * (/fn, /run/kiln, /run/secrets), so that the read-only rootfs needs no tmpfs for them.
 */
export async function makeShimLayerDirs(dir: string): Promise<void> {
  await mkdir(path.join(dir, SHIM_DIR), { recursive: true });
  await mkdir(path.join(dir, 'fn'));
  await mkdir(path.join(dir, 'run/kiln'), { recursive: true });
  await mkdir(path.join(dir, 'run/secrets'));
}

/**
 * A shim that is its sources as they are (node, python): copy them to `/opt/kiln/shim`, those
 * `wanted` says (all by default).
 */
export async function copyShimFiles(
  srcDir: string,
  layerDir: string,
  wanted: (name: string) => boolean = () => true,
): Promise<void> {
  for (const name of await readdir(srcDir)) {
    if (isShimSource(name) && wanted(name))
      await cp(path.join(srcDir, name), path.join(layerDir, SHIM_DIR, name), { recursive: true });
  }
}
