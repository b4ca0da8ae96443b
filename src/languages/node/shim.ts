import path from 'node:path';
import { SANDBOX_PATHS } from '../../build/sandbox.js';
import { copyShimFiles, NATIVE_SOURCES_DIR } from '../../build/shim-layer.js';
import type { ShimBuildInput } from '../language.js';
import type { FilesShim } from '../recipe.js';
import { runShimBuilderJob, SHIM_JOB_OUT } from '../shim-builder-job.js';

/**
 * The node shim: its modules bundled into one by esbuild in the node builder (`shim.bundle`),
 * plus the C library the recipe preloads (`shim.preload`, runtimes/node/native/) compiled by
 * gcc there, so the host needs neither and the library links against the builder's glibc
 * (the os layer's).
 *
 * Why one module: measured on node 22.23 (issue 9, density), a prewarmed idle shim holds
 * ~0.19 MiB less anonymous memory run from one whitespace-minified module than from its
 * source modules (bundled alone: -0.12; renaming identifiers too: only -0.03 more). Names
 * stay as written (but for a few that two modules share, which get a number: `buildEvent2`),
 * so the shim's frames in a stack still name their functions.
 */
export async function buildNodeShim(input: ShimBuildInput): Promise<void> {
  const shim = input.recipe.shim;
  if (shim.kind !== 'files') return copyShimFiles(input.srcDir, input.layerDir);
  const { bundle, preload } = shim;
  await copyShimFiles(
    input.srcDir,
    input.layerDir,
    (name) => !bundle || !name.endsWith('.mjs') || bundle.keep.includes(name),
  );
  if (bundle) await bundleModules(input, bundle);
  if (!preload) return;
  const { source, library, cflags } = preload;
  await runShimBuilderJob(input, {
    what: 'node shim preload build',
    args: [
      '/bin/sh',
      '-c',
      `mkdir -p ${SHIM_JOB_OUT} && exec gcc "$@"`,
      'gcc',
      ...cflags,
      '-o',
      `${SHIM_JOB_OUT}/${library}`,
      `${SANDBOX_PATHS.bundle}/${source}`,
    ],
    sourcesDir: path.join(input.srcDir, NATIVE_SOURCES_DIR),
    failure: `compiling the node shim's ${library}`,
  });
}

/** esbuild, the builder's (`ESBUILD_BINARY_PATH` in its env), over the shim's sources. */
function bundleModules(input: ShimBuildInput, bundle: NonNullable<FilesShim['bundle']>): Promise<void> {
  return runShimBuilderJob(input, {
    what: 'node shim bundle',
    args: [
      '/bin/sh',
      '-c',
      `mkdir -p ${SHIM_JOB_OUT} && exec "$ESBUILD_BINARY_PATH" "$@"`,
      'esbuild',
      `${SANDBOX_PATHS.bundle}/${bundle.entry}`,
      ...bundle.args,
      ...bundle.keep.map((name) => `--external:./${name}`),
      `--outfile=${SHIM_JOB_OUT}/${bundle.entry}`,
    ],
    sourcesDir: input.srcDir,
    failure: `bundling the node shim's ${bundle.entry}`,
  });
}
