import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { copyCheckedTree } from '../../build/checked-copy.js';
import { KilnError } from '../../errors.js';
import type { FunctionBuild, FunctionBuildInput } from '../language.js';

/**
 * Python bundles are the files as they are; a vendored `site-packages/` dir in the bundle
 * goes on the path. Nothing here reads a file's content: finding the handler's module is a
 * check that a path exists in the (already checked) bundle, and the copy is
 * `copyCheckedTree`. A syntax or import error shows when the shim loads the module, in
 * its container, with its traceback.
 *
 * Layout: the bundle's layout is kept (`handler=src/app.handler` or `src.app.handler` finds
 * `src/app.py`). Only
 * when the module is not found and the bundle is a single top-level dir (`tar czf b.tgz
 * myfn/`) is that dir the code root.
 */
export async function buildPython(input: FunctionBuildInput, handler: string): Promise<FunctionBuild> {
  const modulePath = pythonModulePath(handler);
  if (!modulePath) {
    throw new KilnError(
      'entry_not_found',
      `python handler "${handler}" must be module.function or dir/module.function, e.g. handler.handler or src/app.handler`,
    );
  }
  let root = input.srcDir;
  let entry = await findModule(root, modulePath);
  if (!entry) {
    const lone = await loneDir(root);
    const inner = lone && (await findModule(lone, modulePath));
    if (lone && inner) {
      root = lone;
      entry = inner;
    }
  }
  if (!entry) {
    throw new KilnError('entry_not_found', `handler "${handler}" needs ${modulePath}.py in the bundle`);
  }
  await copyCheckedTree(root, input.outDir, {
    ...input.limits,
    skipTop: ['kiln.json', '__pycache__'],
    what: 'the bundle',
  });
  return { handler, entry };
}

/**
 * The module's path for a handler string, as Lambda's python runtime reads it
 * (awslambdaric bootstrap `_get_handler`: `modname, fname = handler.rsplit(".", 1)`, then
 * `import_module(modname.replace("/", "."))`): `src/app.handler` and `src.app.handler` are
 * both `src/app`. Undefined when the string has no module, no function, or an empty part.
 */
export function pythonModulePath(handler: string): string | undefined {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1 || !/^[\w./]+$/.test(handler)) return undefined;
  const parts = handler.slice(0, dot).replaceAll('/', '.').split('.');
  if (parts.some((p) => p === '')) return undefined;
  return parts.join('/');
}

/**
 * `module.py` or `module/__init__.py`, at the root or in a vendored `site-packages/`. The
 * bundle's links all resolve inside it (`receiveBundle` checked them), so following them
 * stays inside.
 */
async function findModule(root: string, modulePath: string): Promise<string | undefined> {
  for (const base of ['', 'site-packages/']) {
    for (const candidate of [`${base}${modulePath}.py`, `${base}${modulePath}/__init__.py`]) {
      if ((await stat(path.join(root, candidate)).catch(() => undefined))?.isFile()) return candidate;
    }
  }
  return undefined;
}

/** The bundle's one top-level entry when it is a dir (a kiln.json beside it allowed). */
async function loneDir(root: string): Promise<string | undefined> {
  const names = (await readdir(root)).filter((n) => n !== 'kiln.json');
  if (names.length !== 1) return undefined;
  const dir = path.join(root, names[0]!);
  return (await lstat(dir)).isDirectory() ? dir : undefined;
}
