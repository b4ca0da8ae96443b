import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUNTIMES_DIR } from './recipe.js';
import { detectLanguage, isLanguageName, LANGUAGE_NAMES, LANGUAGES, languageNamed } from './registry.js';

describe('the language registry', () => {
  it('has one folder in src/languages and one in runtimes/ per language, each with its recipe', async () => {
    const here = path.dirname(new URL(import.meta.url).pathname);
    const folders = (await readdir(here, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect([...folders].sort()).toEqual([...LANGUAGE_NAMES].sort());
    for (const language of LANGUAGES) {
      const recipe = await language.recipe(RUNTIMES_DIR);
      expect(recipe.language).toBe(language.name);
      expect(recipe.entrypoint.length).toBeGreaterThan(0);
    }
  });

  it('names each language once and finds it by name', () => {
    expect(new Set(LANGUAGE_NAMES).size).toBe(LANGUAGES.length);
    for (const name of LANGUAGE_NAMES) expect(languageNamed(name).name).toBe(name);
    expect(isLanguageName('python')).toBe(true);
    expect(isLanguageName('cobol')).toBe(false);
  });

  it.each([
    [['package.json', 'README.md'], 'node'],
    [['index.ts'], 'node'],
    [['app.cjs'], 'node'],
    [['handler.py'], 'python'],
    [['requirements.txt', 'src'], 'python'],
    [['Hello.java'], 'java'],
    [['lib', 'echo.jar'], 'java'],
    // Registry order decides a dir with files of two languages.
    [['index.mjs', 'tool.py'], 'node'],
    [['README.md'], undefined],
  ])('detects %j as %s', (files, expected) => {
    expect(detectLanguage(files)).toBe(expected);
  });

  it('gives each stem cell the warm-up switch its shim reads', () => {
    for (const language of LANGUAGES) expect(language.stemCellEnv).toContain('KILN_WARMUP=1');
  });
});
