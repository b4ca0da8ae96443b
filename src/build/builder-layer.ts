import { createHash } from 'node:crypto';
import { cp, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { listTree } from '../image/layer-tar.js';
import type { BuilderRecipe } from '../languages/recipe.js';
import { SANDBOX_PATHS } from './sandbox.js';

/** An empty dir in every builder: javac's `-sourcepath`, so no source is looked up on the class path. */
export const BUILDER_EMPTY_DIR = `${SANDBOX_PATHS.tools}/empty`;

/** A digest of a builder's programs and recipe: the cache key of its files layer. */
export async function builderFilesDigest(filesDir: string, recipe: BuilderRecipe): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(recipe));
  for (const rel of await listTree(filesDir)) {
    hash.update(rel);
    const content = await readFile(path.join(filesDir, rel)).catch(() => undefined);
    if (content) hash.update(content);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The top layer of a builder image: `runtimes/<lang>/build/` at /opt/kiln/build, and the
 * mount points of the sandbox's binds (the root is read-only: the runtime cannot make
 * them when a build starts).
 */
export async function makeBuilderFilesLayer(filesDir: string, layerDir: string): Promise<void> {
  for (const p of [
    SANDBOX_PATHS.bundle,
    SANDBOX_PATHS.job,
    SANDBOX_PATHS.shim,
    SANDBOX_PATHS.out,
    BUILDER_EMPTY_DIR,
  ]) {
    await mkdir(path.join(layerDir, p), { recursive: true });
  }
  await cp(filesDir, path.join(layerDir, SANDBOX_PATHS.tools), { recursive: true });
}
