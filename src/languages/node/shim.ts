import path from 'node:path';
import { SANDBOX_PATHS } from '../../build/sandbox.js';
import { copyShimFiles, NATIVE_SOURCES_DIR } from '../../build/shim-layer.js';
import type { ShimBuildInput } from '../language.js';
import { runShimBuilderJob, SHIM_JOB_OUT } from '../shim-builder-job.js';

/**
 * The node shim: its files as they are, plus the C library the recipe preloads
 * (`shim.preload`, runtimes/node/native/) compiled by gcc in the node builder, so the host
 * needs no compiler and the library links against the builder's glibc (the os layer's).
 */
export async function buildNodeShim(input: ShimBuildInput): Promise<void> {
  await copyShimFiles(input.srcDir, input.layerDir);
  const shim = input.recipe.shim;
  if (shim.kind !== 'files' || !shim.preload) return;
  const { source, library, cflags } = shim.preload;
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
