import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Write a file whole or not at all, the way containerd's content store commits: write a
 * sibling temp file, fsync it, rename it over the target, fsync the directory (the rename
 * is an entry in the directory, and only the directory's fsync makes it durable). A crash
 * leaves either the old file or the new one, never half of one.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  /** The file's mode from its creation on (a secret is never readable by others, not even briefly). */
  mode = 0o644,
): Promise<void> {
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncPath(path.dirname(target));
}

/**
 * fsync a file someone else wrote (a tar writer) before it is committed, or a directory so
 * that the entries renamed into it survive a crash. Linux syncs through a read-only fd.
 */
export async function syncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Bytes of the regular files under `dir` (symlinks not followed; each hard link counted once). */
export async function treeBytes(dir: string, seen = new Set<string>()): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(p, seen);
    else if (entry.isFile()) {
      const st = await lstat(p).catch(() => undefined);
      if (!st) continue;
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      total += st.size;
    }
  }
  return total;
}
