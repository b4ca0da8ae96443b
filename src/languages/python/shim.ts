import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { OverlayChroot } from '../../build/overlay-chroot.js';
import { copyShimFiles, SHIM_DIR } from '../../build/shim-layer.js';
import { KilnError } from '../../errors.js';
import type { ShimBuildInput } from '../language.js';
import type { PythonShim } from '../recipe.js';

/** Where CPython looks for a module's bytecode (PEP 3147), beside the shim's sources. */
export const PYCACHE_DIR = '__pycache__';

/**
 * The image's python3 compiling the shim's modules, run in a chroot of the image: its own
 * interpreter, so the bytecode's magic number is the one that loads it. The recipe asks
 * for `unchecked-hash` (PEP 552) pycs, loaded without looking at the source: the layer is
 * content-addressed and packed with every mtime at the epoch, so a timestamp pyc would
 * never match its source and every start would compile the shim again (`-B` keeps it from
 * writing one).
 */
export function compileShimArgs(shimDir: string, shim: PythonShim): string[] {
  return [
    '/usr/bin/python3',
    '-S',
    '-m',
    'compileall',
    '-q',
    '-l',
    '--invalidation-mode',
    shim.invalidationMode,
    shimDir,
  ];
}

/**
 * The shim's files as they are plus their bytecode in `__pycache__`: `python3 -S -B`
 * then maps the shim's modules instead of compiling them at every cold start (issue 17:
 * 8 modules, all of the shim but `main.py`, were compiled from source at each start).
 */
export async function buildPythonShim({
  recipe,
  srcDir,
  layerDir,
  lowerDirs,
  workDir,
}: ShimBuildInput): Promise<void> {
  const shim = recipe.shim;
  if (shim.kind !== 'python') {
    throw new KilnError(
      'recipe_unreadable',
      `the python recipe's shim must be of kind "python", not "${shim.kind}"`,
      500,
    );
  }
  await copyShimFiles(srcDir, layerDir);
  const chroot = await OverlayChroot.open([...lowerDirs, layerDir], path.join(workDir, 'pyc'));
  try {
    await chroot.run(compileShimArgs(`/${SHIM_DIR}`, shim));
    await cp(path.join(chroot.upper, SHIM_DIR, PYCACHE_DIR), path.join(layerDir, SHIM_DIR, PYCACHE_DIR), {
      recursive: true,
    });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new KilnError(
      'base_build_failed',
      `compiling the Python shim to bytecode failed: ${e.stdout || e.stderr || e.message}`,
      500,
    );
  } finally {
    await chroot.close();
    await rm(path.join(workDir, 'pyc'), { recursive: true, force: true });
  }
}
