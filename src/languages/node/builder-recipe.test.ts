import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import { RUNTIMES_DIR, readRecipe } from '../recipe.js';

it("the node builder's esbuild is the version package.json pins (the build program's host tests use that one)", async () => {
  const recipe = await readRecipe('node', RUNTIMES_DIR);
  const installed = JSON.parse(
    await readFile(path.join(RUNTIMES_DIR, '..', 'node_modules/esbuild/package.json'), 'utf8'),
  ) as { version: string };
  const packages = recipe.builder?.layers.flatMap((l) => (l.kind === 'npm-packages' ? l.packages : [])) ?? [];
  expect(packages).toEqual([`esbuild@${installed.version}`, `@esbuild/linux-x64@${installed.version}`]);
});
