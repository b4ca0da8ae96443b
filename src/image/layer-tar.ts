import { execFile } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { KilnError } from '../errors.js';
import type { ImageStore } from './image-store.js';
import { type Descriptor, MediaType } from './types.js';

const execFileP = promisify(execFile);

/** OCI image-spec's whiteout prefix: `.wh.name` in a layer deletes `name` from the layers below. */
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

export interface PackOptions {
  /**
   * Same files → same bytes → same digest: entries sorted, times and owners dropped.
   * Function layers are packed this way so that deploying the same code twice stores
   * one blob. Base layers keep owners (a Debian rootfs is not all root-owned).
   */
  deterministic?: boolean;
  /** Paths this layer deletes from the layers below, written as OCI whiteout entries. */
  deletions?: string[];
}

/** Pack a directory as an uncompressed OCI layer and commit it to the store. */
export async function packLayer(
  store: ImageStore,
  dir: string,
  options: PackOptions = {},
): Promise<Descriptor> {
  // Whiteout markers exist on disk only while the tar is written.
  const markers = (options.deletions ?? []).map((p) =>
    path.join(dir, path.dirname(p), `${WHITEOUT}${path.basename(p)}`),
  );
  for (const marker of markers) await writeFile(marker, '');
  try {
    const entries = await listTree(dir);
    const tmp = store.tempPath('.tar');
    await tar.c(
      {
        cwd: dir,
        file: tmp,
        noDirRecurse: true,
        portable: options.deterministic === true,
        ...(options.deterministic ? { mtime: new Date(0) } : {}),
      },
      entries,
    );
    return await store.commitFile(tmp, MediaType.layer);
  } finally {
    for (const marker of markers) await rm(marker, { force: true });
  }
}

/**
 * Unpack a layer blob (tar or tar+gzip, detected by magic) into `dest`, a snapshot dir
 * that will be an overlay lowerdir: OCI whiteouts become overlay whiteouts (a 0/0
 * character device), which hide the path in the layers below.
 */
export async function unpackLayer(blobPath: string, dest: string): Promise<void> {
  const whiteouts: string[] = [];
  // node-tar refuses `..` and absolute paths on its own; owners are kept when run as root.
  await tar.x({
    file: blobPath,
    cwd: dest,
    preserveOwner: process.getuid?.() === 0,
    filter: (p) => {
      const base = path.posix.basename(p);
      if (!base.startsWith(WHITEOUT)) return true;
      whiteouts.push(p);
      return false;
    },
  });
  for (const p of whiteouts) {
    const base = path.posix.basename(p);
    if (base === OPAQUE) {
      throw new KilnError(
        'unsupported_layer',
        `layer ${blobPath} has an opaque-dir whiteout (${p}), which Kiln cannot unpack yet`,
        500,
      );
    }
    const target = path.join(dest, path.posix.dirname(p), base.slice(WHITEOUT.length));
    await rm(target, { recursive: true, force: true });
    await execFileP('mknod', [target, 'c', '0', '0']);
  }
}

/**
 * Every path under `dir`, relative, sorted, directories before their contents; no
 * symlinks followed. Device nodes, fifos and sockets are left out: a layer never carries
 * them (instances get a fresh /dev), and an overlay upper dir's whiteouts are devices.
 */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (!(entry.isFile() || entry.isDirectory() || entry.isSymbolicLink())) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      out.push(child);
      if (entry.isDirectory()) await walk(child);
    }
  };
  await walk('');
  return out;
}
