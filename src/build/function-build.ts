import { KilnError } from '../errors.js';
import { buildNode } from './node-build.js';
import type { Language } from './recipe.js';

/** What building a bundle into a function layer tells the rest of Kiln. */
export interface FunctionBuild {
  /** The handler string the shim's `POST /init` gets, relative to `/fn`. */
  handler: string;
  /** The source file the build started from, for `kiln inspect` and errors. */
  entry: string;
}

/** Build `srcDir` (an unpacked bundle) into `outDir`, the future `/fn` of the function. */
export async function buildFunction(
  language: Language,
  srcDir: string,
  outDir: string,
  handler?: string,
): Promise<FunctionBuild> {
  switch (language) {
    case 'node':
      return buildNode(srcDir, outDir, handler);
    default:
      throw new KilnError('unknown_runtime', `no builder for runtime "${language as string}"`);
  }
}
