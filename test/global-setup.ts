import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { Kiln } from '../src/kiln.js';
import { RUNTIMES_DIR } from '../src/languages/recipe.js';
import { LANGUAGE_NAMES, languageNamed } from '../src/languages/registry.js';
import { checkHost } from '../src/runtime/host-check.js';
import { TEST_CACHE } from './harness.js';

const execFileP = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

/**
 * Runs once before all test files: builds every base image and builder into one shared cache
 * (debootstrap takes ~30 s; every integration test reuses it), installs the example
 * that carries its own node_modules, and builds the CLI the CLI tests run.
 */
export default async function setup(_project: TestProject): Promise<void> {
  const problems = (await checkHost()).filter((f) => !f.ok && !f.warnOnly);
  if (problems.length) {
    throw new Error(
      `this host cannot run Kiln containers: ${problems.map((p) => p.detail).join('; ')} (run kiln doctor --fix)`,
    );
  }
  const started = Date.now();
  const { baseImages } = await Kiln.openStores({
    dataDir: TEST_CACHE,
    log: (l) => console.log(`[setup] ${l}`),
  });
  for (const language of LANGUAGE_NAMES) {
    await baseImages.ensure(language);
    if ((await languageNamed(language).recipe(RUNTIMES_DIR)).builder) await baseImages.builder(language);
  }
  if (!existsSync(path.join(root, 'examples/hello-ts/node_modules'))) {
    await execFileP('npm', ['ci', '--no-audit', '--no-fund'], { cwd: path.join(root, 'examples/hello-ts') });
  }
  await execFileP('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
  console.log(`[setup] base images and examples ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
