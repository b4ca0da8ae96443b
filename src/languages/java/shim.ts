import { cp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUILDER_EMPTY_DIR } from '../../build/builder-layer.js';
import { OverlayChroot } from '../../build/overlay-chroot.js';
import { SANDBOX_PATHS } from '../../build/sandbox.js';
import { SHIM_DIR } from '../../build/shim-layer.js';
import { KilnError } from '../../errors.js';
import { listTree } from '../../image/layer-tar.js';
import type { ShimBuildInput } from '../language.js';
import { runShimBuilderJob, SHIM_JOB_OUT } from '../shim-builder-job.js';
import { JAVAC_FLAGS, JAVAC_JVM_FLAGS, javacArgFile } from './javac-args.js';

/**
 * javac the shim in the java builder (`--release 17`, the runtime's version; the host
 * needs no JDK), jar it, then run its training mode once inside the image with
 * -XX:ArchiveClassesAtExit: the AppCDS archive lets every later JVM map the shim's
 * classes instead of loading them. The shim is Kiln's own code, so its training runs in a
 * chroot of the image's layers.
 */
export async function buildJavaShim(input: ShimBuildInput): Promise<void> {
  const { recipe, srcDir, layerDir, lowerDirs, workDir } = input;
  const shim = recipe.shim;
  if (shim.kind !== 'java') {
    throw new KilnError(
      'recipe_unreadable',
      `the java recipe's shim must be of kind "java", not "${shim.kind}"`,
      500,
    );
  }
  const sourcesDir = path.join(srcDir, shim.sources);
  const sources = (await listTree(sourcesDir)).filter((p) => p.endsWith('.java'));
  const jobDir = path.join(workDir, 'javac-job');
  await mkdir(jobDir, { recursive: true, mode: 0o755 });
  await writeFile(
    path.join(jobDir, 'javac.args'),
    javacArgFile([...JAVAC_FLAGS, '-sourcepath', BUILDER_EMPTY_DIR, '-d', '/tmp/classes'], sources),
    { mode: 0o644 },
  );
  const script = [
    'set -eu',
    `javac ${JAVAC_JVM_FLAGS.join(' ')} @${SANDBOX_PATHS.job}/javac.args`,
    `mkdir -p ${SHIM_JOB_OUT}`,
    `jar cf ${SHIM_JOB_OUT}/${shim.jar} -C /tmp/classes .`,
  ].join('\n');
  await runShimBuilderJob(input, {
    what: 'java shim build',
    args: ['/bin/sh', '-c', script],
    sourcesDir,
    jobDir,
    failure: 'compiling the Java shim',
  });
  // The archive records the jar's mtime and refuses to map when it differs ("A jar file is
  // not the one used while building the shared archive file", HotSpot's
  // SharedClassPathEntry::validate). The layer tar is packed with every mtime at the epoch
  // (packLayer's deterministic form), so the jar gets that mtime before training: the JVM
  // then sees the same jar in Kiln's snapshot, in a pulled image and under podman.
  const epoch = new Date(0);
  await utimes(path.join(layerDir, SHIM_DIR, shim.jar), epoch, epoch);
  const chroot = await OverlayChroot.open([...lowerDirs, layerDir], path.join(workDir, 'cds'));
  try {
    const archive = `/${SHIM_DIR}/${shim.cdsArchive}`;
    await chroot.run([
      '/usr/bin/java',
      `-XX:ArchiveClassesAtExit=${archive}`,
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      '-XX:-UsePerfData',
      '--add-opens',
      'java.base/java.util=ALL-UNNAMED',
      '-cp',
      `/${SHIM_DIR}/${shim.jar}`,
      shim.mainClass,
      '--train',
    ]);
    await cp(path.join(chroot.upper, archive), path.join(layerDir, archive));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new KilnError(
      'base_build_failed',
      `making the Java shim's class-data archive failed: ${e.stderr || e.message}`,
      500,
    );
  } finally {
    await chroot.close();
    await rm(path.join(workDir, 'cds'), { recursive: true, force: true });
  }
}
