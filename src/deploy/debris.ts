import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { unmount } from '../image/overlay.js';

export interface Debris {
  /** Mounts under tmp/ (a build's rootfs overlay and output tmpfs). */
  mounts: number;
  /** Work dirs under tmp/ (deploys, builds, layers being made). */
  workDirs: number;
  /** Temp files under images/ingest/ of processes that are gone. */
  ingest: number;
}

/**
 * Remove what a gateway killed mid-deploy left in its data dir (call it at start-up, after
 * the runtime has stopped every container of the last run): mounts under `tmp/` (lazily,
 * deepest first, so a removal never reaches into a mounted tmpfs), then everything in
 * `tmp/`, then ingest files whose writer is no longer running (a live process's are kept,
 * since another Kiln may share the image store: the tests and the benchmark do).
 */
export async function clearDebris(data: { tmp: string; images: string }): Promise<Debris> {
  const tmp = path.resolve(data.tmp);
  const mounts = (await mountPoints()).filter((m) => m.startsWith(`${tmp}/`));
  mounts.sort((a, b) => b.length - a.length);
  for (const m of mounts) await unmount(m);
  const workDirs = await readdir(tmp).catch(() => [] as string[]);
  for (const name of workDirs) await rm(path.join(tmp, name), { recursive: true, force: true });
  const ingest = (await clearDeadIngest(data.images)).files;
  return { mounts: mounts.length, workDirs: workDirs.length, ingest };
}

/**
 * Remove ingest files whose writer is no longer running (at start-up, and in `kiln system
 * prune`). Ingest files are named `<pid>-<random>` (`ImageStore.tempPath`).
 */
export async function clearDeadIngest(imagesDir: string): Promise<{ files: number; bytes: number }> {
  const ingestDir = path.join(imagesDir, 'ingest');
  let files = 0;
  let bytes = 0;
  for (const name of await readdir(ingestDir).catch(() => [] as string[])) {
    const pid = /^(\d+)-/.exec(name)?.[1];
    if (pid !== undefined && isRunning(Number(pid))) continue;
    bytes += (await stat(path.join(ingestDir, name)).catch(() => ({ size: 0 }))).size;
    await rm(path.join(ingestDir, name), { force: true });
    files++;
  }
  return { files, bytes };
}

/** Mount points of this mount namespace (/proc/self/mountinfo field 5, octal escapes undone). */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, oct: string) =>
        String.fromCharCode(Number.parseInt(oct, 8)),
      ),
    );
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
