import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KilnError } from '../errors.js';

export const LANGUAGES = ['node'] as const;
export type Language = (typeof LANGUAGES)[number];

export function isLanguage(value: string): value is Language {
  return (LANGUAGES as readonly string[]).includes(value);
}

/** How a language layer is made, read from `runtimes/<lang>/recipe.json`. */
export interface NpmBinaryLayer {
  kind: 'npm-binary';
  package: string;
  version: string;
  /** Path of the binary inside the npm package. */
  binary: string;
  /** Where it goes in the image. */
  installAs: string;
}

export interface Recipe {
  language: Language;
  layer: NpmBinaryLayer;
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
