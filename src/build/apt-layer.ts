import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../errors.js';
import { OverlayChroot } from './overlay-chroot.js';

export interface AptLayerContent {
  /** The overlay upper dir: exactly what apt added or changed, overlay whiteouts included. */
  dir: string;
  /** Paths (relative) that apt removed from the layers below. */
  deletions: string[];
}

/**
 * Install Debian packages on top of `lowerDirs` (bottom first) and capture the result as
 * a layer (docs/DESIGN.md §2): apt runs in a chroot of an overlay whose upper dir is then the
 * diff. Deletions are read off the merged view before it is unmounted (a path the lower
 * layers have and the merged view no longer shows), which covers whiteouts and opaque
 * dirs alike without reading overlay xattrs.
 */
export async function buildAptLayer(
  lowerDirs: string[],
  packages: string[],
  workDir: string,
): Promise<AptLayerContent> {
  const chroot = await OverlayChroot.open(lowerDirs, workDir);
  try {
    const script = [
      'set -e',
      'apt-get update -qq',
      `apt-get install -y -qq --no-install-recommends ${packages.join(' ')}`,
      'apt-get clean',
    ].join('\n');
    try {
      await chroot.run(['/bin/sh', '-c', script]);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new KilnError(
        'base_build_failed',
        `apt-get install ${packages.join(' ')} failed: ${(e.stderr || e.message).slice(-2000)}`,
        500,
      );
    }
    // The package index apt just fetched is cache, not content.
    await rm(path.join(chroot.upper, 'var/lib/apt/lists'), { recursive: true, force: true });
    const deletions = await findDeletions(chroot, lowerDirs);
    return { dir: chroot.upper, deletions };
  } finally {
    await chroot.close();
  }
}

/** Children of dirs the upper touched that some lower layer has but the merged view lacks. */
async function findDeletions(chroot: OverlayChroot, lowerDirs: string[]): Promise<string[]> {
  const deletions: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const below = new Set<string>();
    for (const lower of lowerDirs) {
      for (const name of await readdir(path.join(lower, rel)).catch(() => [] as string[])) below.add(name);
    }
    for (const name of [...below].sort()) {
      const child = rel ? `${rel}/${name}` : name;
      if (!(await chroot.visible(child))) deletions.push(child);
    }
    for (const entry of await readdir(path.join(chroot.upper, rel), { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(rel ? `${rel}/${entry.name}` : entry.name);
    }
  };
  await walk('');
  return deletions;
}
