import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KilnError } from '../errors.js';
import { listTree } from '../image/layer-tar.js';
import { OverlayChroot } from './overlay-chroot.js';
import type { JavaShim, Recipe } from './recipe.js';

const execFileP = promisify(execFile);

/** Where every shim lives in an image. */
export const SHIM_DIR = 'opt/kiln/shim';

function isShimSource(rel: string): boolean {
  return rel !== 'recipe.json' && !/\.test\.(mjs|py)$/.test(rel) && !rel.split('/').includes('__pycache__');
}

/** A digest of a shim's sources and recipe: the cache key of its layer. */
export async function shimSourceDigest(srcDir: string, recipe: Recipe): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(recipe));
  for (const rel of await listTree(srcDir)) {
    if (!isShimSource(rel)) continue;
    hash.update(rel);
    const content = await readFile(path.join(srcDir, rel)).catch(() => undefined);
    if (content) hash.update(content);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Fill `dir` with the shim layer: the shim at /opt/kiln/shim and the mount points every
 * instance needs (/fn, /run/kiln). `lowerDirs` (os + language snapshots) are where a
 * build step that must run the language itself runs.
 */
export async function buildShimContent(
  recipe: Recipe,
  srcDir: string,
  dir: string,
  lowerDirs: string[],
  workDir: string,
): Promise<void> {
  const shimDir = path.join(dir, SHIM_DIR);
  await mkdir(shimDir, { recursive: true });
  await mkdir(path.join(dir, 'fn'));
  await mkdir(path.join(dir, 'run/kiln'), { recursive: true });
  if (recipe.shim.kind === 'files') {
    for (const name of await readdir(srcDir)) {
      if (isShimSource(name))
        await cp(path.join(srcDir, name), path.join(shimDir, name), { recursive: true });
    }
    return;
  }
  await buildJavaShim(recipe.shim, srcDir, dir, lowerDirs, workDir);
}

/**
 * javac the shim on the host (`--release 17`, the runtime's version), jar it, then run its
 * training mode once inside the image with -XX:ArchiveClassesAtExit: the AppCDS archive
 * lets every later JVM map the shim's classes instead of loading them.
 */
async function buildJavaShim(
  shim: JavaShim,
  srcDir: string,
  dir: string,
  lowerDirs: string[],
  workDir: string,
): Promise<void> {
  const classes = path.join(workDir, 'classes');
  await mkdir(classes, { recursive: true });
  const sources = (await listTree(path.join(srcDir, shim.sources)))
    .filter((p) => p.endsWith('.java'))
    .map((p) => path.join(srcDir, shim.sources, p));
  try {
    await execFileP('javac', ['--release', '17', '-nowarn', '-d', classes, ...sources], {
      maxBuffer: 16 << 20,
    });
    await execFileP('jar', ['cf', path.join(dir, SHIM_DIR, shim.jar), '-C', classes, '.']);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new KilnError(
      'base_build_failed',
      `compiling the Java shim failed (javac 17+ is needed on the host: apt-get install -y openjdk-17-jdk-headless): ${e.stderr || e.message}`,
      500,
    );
  }
  const chroot = await OverlayChroot.open([...lowerDirs, dir], path.join(workDir, 'cds'));
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
    await cp(path.join(chroot.upper, archive), path.join(dir, archive));
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
