import type { Language } from '../language.js';
import { readRecipe } from '../recipe.js';
import { buildPython } from './build.js';
import { buildPythonShim } from './shim.js';

/** Lambda's default: `handler` in `handler.py`. */
const DEFAULT_HANDLER = 'handler.handler';

/** Python 3.11 (Debian's python3): Lambda-style `module.function` handlers, bundles taken as they are. */
export const python: Language<'python'> = {
  name: 'python',
  recipe: (runtimesDir) => readRecipe('python', runtimesDir),
  buildShim: buildPythonShim,
  buildFunction: (input) => buildPython(input, input.handler ?? DEFAULT_HANDLER),
  handler: { form: 'module.function', default: DEFAULT_HANDLER },
  stemCellEnv: ['KILN_WARMUP=1'],
  // runtimes/python/recipe.json: bookworm's python3 is 3.11
  lambdaRuntime: 'python3.11',
  detect: (files) => files.includes('requirements.txt') || files.some((f) => f.endsWith('.py')),
};
