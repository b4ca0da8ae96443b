import type { Language } from '../language.js';
import { readRecipe } from '../recipe.js';
import { buildJava } from './build.js';
import { buildJavaShim } from './shim.js';

/** The shim's jar, as `runtimes/java/recipe.json` names it: functions compile against it. */
const SHIM_JAR = 'kiln-shim.jar';

/** Java 17 (Debian's OpenJDK): Lambda-style handler classes, compiled with javac in the java builder at deploy. */
export const java: Language<'java'> = {
  name: 'java',
  recipe: (runtimesDir) => readRecipe('java', runtimesDir),
  buildShim: buildJavaShim,
  buildFunction: (input) => buildJava(input, SHIM_JAR),
  handler: { form: 'Class or Class::method (optional with one top-level source file)' },
  stemCellEnv: ['KILN_WARMUP=1'],
  // runtimes/java/recipe.json: openjdk-17
  lambdaRuntime: 'java17',
  detect: (files) => files.some((f) => f.endsWith('.java') || f.endsWith('.jar')),
};
