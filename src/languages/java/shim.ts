import { execFile } from 'node:child_process';
import { cp, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { OverlayChroot } from '../../build/overlay-chroot.js';
import { SHIM_DIR } from '../../build/shim-layer.js';
import { KilnError } from '../../errors.js';
import { listTree } from '../../image/layer-tar.js';
import type { ShimBuildInput } from '../language.js';

const execFileP = promisify(execFile);

/**
 * javac the shim on the host (`--release 17`, the runtime's version), jar it, then run its
 * training mode once inside the image with -XX:ArchiveClassesAtExit: the AppCDS archive
 * lets every later JVM map the shim's classes instead of loading them.
 */
export async function buildJavaShim({
  recipe,
  srcDir,
  layerDir,
  lowerDirs,
  workDir,
}: ShimBuildInput): Promise<void> {
  const shim = recipe.shim;
  if (shim.kind !== 'java') {
    throw new KilnError(
      'recipe_unreadable',
      `the java recipe's shim must be of kind "java", not "${shim.kind}"`,
      500,
    );
  }
  const classes = path.join(workDir, 'classes');
  await mkdir(classes, { recursive: true });
  const sources = (await listTree(path.join(srcDir, shim.sources)))
    .filter((p) => p.endsWith('.java'))
    .map((p) => path.join(srcDir, shim.sources, p));
  try {
    // -XDstringConcat=inline: string concatenation without invokedynamic, whose bootstrap
    // cost ~40 ms of the shim's first request (measured with -Xlog:class+load).
    await execFileP(
      'javac',
      ['--release', '17', '-nowarn', '-XDstringConcat=inline', '-d', classes, ...sources],
      {
        maxBuffer: 16 << 20,
      },
    );
    await execFileP('jar', ['cf', path.join(layerDir, SHIM_DIR, shim.jar), '-C', classes, '.']);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new KilnError(
      'base_build_failed',
      `compiling the Java shim failed (javac 17+ is needed on the host: apt-get install -y openjdk-17-jdk-headless): ${e.stderr || e.message}`,
      500,
    );
  }
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
