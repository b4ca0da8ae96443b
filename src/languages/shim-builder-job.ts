import path from 'node:path';
import { SANDBOX_PATHS } from '../build/sandbox.js';
import { SHIM_DIR } from '../build/shim-layer.js';
import { KilnError } from '../errors.js';
import type { ShimBuildInput } from './language.js';

/** Where a shim build job leaves the files it makes for the shim: `/out/shim`. */
export const SHIM_JOB_OUT = `${SANDBOX_PATHS.out}/shim`;

export interface ShimBuilderJob {
  /** What the job is, in the sandbox's messages ("java shim build"). */
  what: string;
  args: string[];
  /** Host dir of Kiln's own sources for the job, read-only at `SANDBOX_PATHS.bundle`. */
  sourcesDir: string;
  /** Host dir of files Kiln wrote for the job, read-only at `SANDBOX_PATHS.job`. */
  jobDir?: string;
  /** Says what failed when the job exits non-zero ("compiling the Java shim"). */
  failure: string;
}

/**
 * Run one step of a shim's build in the language's builder (javac and jar, gcc): the shim is
 * Kiln's own code, but its compilers live in the builder, not on the host. What the job leaves
 * in `SHIM_JOB_OUT` joins the shim layer's `/opt/kiln/shim`.
 */
export async function runShimBuilderJob(
  { layerDir, sandbox, builder }: ShimBuildInput,
  job: ShimBuilderJob,
): Promise<void> {
  const image = await builder();
  await sandbox.run(
    {
      what: job.what,
      layers: image.layers,
      args: job.args,
      env: image.env,
      cwd: SANDBOX_PATHS.bundle,
      bundleDir: job.sourcesDir,
      jobDir: job.jobDir,
    },
    async (output) => {
      if (output.exitCode !== 0) {
        throw new KilnError('base_build_failed', `${job.failure} failed: ${output.log.slice(-4000)}`, 500);
      }
      await output.copyTree('shim', path.join(layerDir, SHIM_DIR));
    },
  );
}
