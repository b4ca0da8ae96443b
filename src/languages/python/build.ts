import { cp, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathExists } from '../../disk.js';
import { KilnError } from '../../errors.js';
import type { FunctionBuild } from '../language.js';

/**
 * Python bundles are the files as they are; a vendored `site-packages/` dir in the bundle
 * goes on the path. The handler `module.function` must name a module in the bundle; a
 * syntax or import error shows when the shim loads it, with its traceback.
 */
export async function buildPython(srcDir: string, outDir: string, handler: string): Promise<FunctionBuild> {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1 || !/^[\w.]+$/.test(handler)) {
    throw new KilnError(
      'entry_not_found',
      `python handler "${handler}" must be module.function, e.g. handler.handler`,
    );
  }
  const modulePath = handler.slice(0, dot).split('.').join('/');
  let entry: string | undefined;
  for (const base of ['', 'site-packages/']) {
    for (const candidate of [`${base}${modulePath}.py`, `${base}${modulePath}/__init__.py`]) {
      if (!entry && (await pathExists(path.join(srcDir, candidate)))) entry = candidate;
    }
  }
  if (!entry) {
    throw new KilnError('entry_not_found', `handler "${handler}" needs ${modulePath}.py in the bundle`);
  }
  for (const name of await readdir(srcDir)) {
    if (name === 'kiln.json' || name === '__pycache__') continue;
    await cp(path.join(srcDir, name), path.join(outDir, name), { recursive: true, verbatimSymlinks: true });
  }
  return { handler, entry };
}
