import path from 'node:path';
import { buildJava } from './java-build.js';
import { buildNode } from './node-build.js';
import { buildPython } from './python-build.js';
import type { Language } from './recipe.js';
import { SHIM_DIR } from './shim-layer.js';

/** What building a bundle into a function layer tells the rest of Kiln. */
export interface FunctionBuild {
  /** The handler string the shim's `POST /init` gets, relative to `/fn`. */
  handler: string;
  /** The source file the build started from, for errors and `kiln inspect`. */
  entry: string;
}

export interface BuildContext {
  /** The shim layer's snapshot dir: what a build compiles against (java: the shim jar). */
  shimDir: string;
}

/** Build `srcDir` (an unpacked bundle) into `outDir`, the future `/fn` of the function. */
export async function buildFunction(
  language: Language,
  srcDir: string,
  outDir: string,
  handler: string | undefined,
  context: BuildContext,
): Promise<FunctionBuild> {
  switch (language) {
    case 'node':
      return buildNode(srcDir, outDir, handler);
    case 'python':
      return buildPython(srcDir, outDir, handler);
    case 'java':
      return buildJava(srcDir, outDir, path.join(context.shimDir, SHIM_DIR, 'kiln-shim.jar'), handler);
  }
}
