import path from 'node:path';
import { SANDBOX_PATHS } from '../../build/sandbox.js';
import { copyShimFiles, NATIVE_SOURCES_DIR, SHIM_DIR } from '../../build/shim-layer.js';
import { KilnError } from '../../errors.js';
import type { ShimBuildInput } from '../language.js';

/**
 * The node shim: its files as they are, plus the C library the recipe preloads
 * (`shim.preload`, runtimes/node/native/) compiled by gcc in the node builder, so the
 * library is built against the image's own glibc and the host needs no compiler.
 */
export async function buildNodeShim({
  recipe,
  srcDir,
  layerDir,
  sandbox,
  builder,
}: ShimBuildInput): Promise<void> {
  await copyShimFiles(srcDir, layerDir);
  const shim = recipe.shim;
  if (shim.kind !== 'files' || !shim.preload) return;
  const { source, library, cflags } = shim.preload;
  const image = await builder();
  await sandbox.run(
    {
      what: 'node shim preload build',
      layers: image.layers,
      args: [
        '/bin/sh',
        '-c',
        `mkdir -p ${SANDBOX_PATHS.out}/shim && exec gcc "$@"`,
        'gcc',
        ...cflags,
        '-o',
        `${SANDBOX_PATHS.out}/shim/${library}`,
        `${SANDBOX_PATHS.bundle}/${source}`,
      ],
      env: image.env,
      cwd: SANDBOX_PATHS.bundle,
      bundleDir: path.join(srcDir, NATIVE_SOURCES_DIR),
    },
    async (output) => {
      if (output.exitCode !== 0) {
        throw new KilnError(
          'base_build_failed',
          `compiling the node shim's ${library} failed: ${output.log.slice(-4000)}`,
          500,
        );
      }
      await output.copyTree('shim', path.join(layerDir, SHIM_DIR));
    },
  );
}
