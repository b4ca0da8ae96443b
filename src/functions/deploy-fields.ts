import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathExists } from '../disk.js';
import { KilnError } from '../errors.js';
import { detectLanguage, LANGUAGE_NAMES, type LanguageName } from '../languages/registry.js';

/** Spec fields for a deploy of a dir: flags, else kiln.json's, else the dir name and a detected runtime. */
export async function deployFields(
  dir: string,
  flags: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const fields: Record<string, unknown> = {};
  let kilnJson: Record<string, unknown> = {};
  const specFile = path.join(dir, 'kiln.json');
  if (await pathExists(specFile))
    kilnJson = JSON.parse(await readFile(specFile, 'utf8')) as Record<string, unknown>;
  if (!kilnJson.name && !flags.name) fields.name = path.basename(path.resolve(dir)).toLowerCase();
  if (!kilnJson.runtime && !flags.runtime) fields.runtime = await detectRuntime(dir);
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) fields[k] = v;
  return fields;
}

async function detectRuntime(dir: string): Promise<LanguageName> {
  const found = detectLanguage(await readdir(dir));
  if (found) return found;
  throw new KilnError(
    'missing_runtime',
    `cannot tell the runtime of ${dir}: pass --runtime (${LANGUAGE_NAMES.join(', ')})`,
  );
}
