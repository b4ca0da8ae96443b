import { readdir } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import type { ImageStore } from './image-store.js';
import { type Descriptor, MediaType } from './types.js';

export interface PackOptions {
  /**
   * Same files → same bytes → same digest: entries sorted, times and owners dropped.
   * Function layers are packed this way so that deploying the same code twice stores
   * one blob. Base layers keep owners (a Debian rootfs is not all root-owned).
   */
  deterministic?: boolean;
}

/** Pack a directory as an uncompressed OCI layer and commit it to the store. */
export async function packLayer(
  store: ImageStore,
  dir: string,
  options: PackOptions = {},
): Promise<Descriptor> {
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
  return store.commitFile(tmp, MediaType.layer);
}

/** Unpack a layer blob (tar or tar+gzip, detected by magic) into `dest`. */
export async function unpackLayer(blobPath: string, dest: string): Promise<void> {
  // node-tar refuses `..` and absolute paths on its own; owners are kept when run as root.
  await tar.x({ file: blobPath, cwd: dest, preserveOwner: process.getuid?.() === 0 });
}

/** Every path under `dir`, relative, sorted, directories before their contents; no symlinks followed. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      out.push(child);
      if (entry.isDirectory()) await walk(child);
    }
  };
  await walk('');
  return out;
}
