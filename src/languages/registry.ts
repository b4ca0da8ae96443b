import { java } from './java/java.js';
import type { Language } from './language.js';
import { node } from './node/node.js';
import { python } from './python/python.js';

/**
 * Every language Kiln runs, in the order `kiln deploy` tries to detect them. A new
 * language is a folder beside these (its `Language`), its shim and recipe.json in
 * `runtimes/<name>/`, and one entry here.
 */
export const LANGUAGES = [node, python, java] as const;

export type LanguageName = (typeof LANGUAGES)[number]['name'];

export const LANGUAGE_NAMES: readonly LanguageName[] = LANGUAGES.map((l) => l.name);

export function isLanguageName(value: string): value is LanguageName {
  return (LANGUAGE_NAMES as readonly string[]).includes(value);
}

export function languageNamed(name: LanguageName): Language<LanguageName> {
  // LANGUAGE_NAMES holds every name, so the find always succeeds.
  return LANGUAGES.find((l) => l.name === name) as Language<LanguageName>;
}

/** The first language whose files a function dir has (its top-level names), or undefined. */
export function detectLanguage(files: readonly string[]): LanguageName | undefined {
  return LANGUAGES.find((l) => l.detect(files))?.name;
}
