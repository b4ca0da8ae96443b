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
 * Unpack a layer blob (tar or tar+gzip) into `dest`, a snapshot dir that will be an
 * overlay lowerdir: OCI whiteouts become overlay whiteouts (a 0/0 character device),
 * which hide the path in the layers below.
 *
 * GNU tar does the extraction, not node-tar: a root filesystem's symlinks must be kept
 * as written (`/usr/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/…` is resolved
 * inside the container), and node-tar strips the leading `/` from every link target.
 * GNU tar keeps them and is still safe with a stranger's archive (a pulled image): it
 * refuses member names with `..`, strips a leading `/` from member names, and extracts a
 * symlink whose target is absolute or has `..` as a placeholder file until the end, so
 * no later member is written through it (GNU tar manual, "Security"; extract.c
 * create_placeholder_file). Device nodes, fifos and sockets a layer holds are removed:
 * instances get a fresh /dev.
 */
export async function unpackLayer(blobPath: string, dest: string): Promise<void> {
  try {
    // -a is for creation; on extraction GNU tar detects gzip itself. Owners kept as root (the default).
    await execFileP('tar', ['-x', '-f', blobPath, '-C', dest, '--numeric-owner', '--no-overwrite-dir'], {
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new KilnError(
      'invalid_layer',
      `layer ${path.basename(blobPath)} cannot be unpacked: ${(e.stderr || e.message).slice(-1000)}`,
      400,
    );
  }
  await applyWhiteouts(dest, '');
}

/** Turn `.wh.` entries into overlay whiteouts and drop special files, walking the unpacked tree. */
async function applyWhiteouts(root: string, rel: string): Promise<void> {
  const entries = await readdir(path.join(root, rel), { withFileTypes: true });
  // Whiteouts last: the path one hides may be listed after it.
  entries.sort((a, b) => Number(a.name.startsWith(WHITEOUT)) - Number(b.name.startsWith(WHITEOUT)));
  for (const entry of entries) {
    const child = path.join(root, rel, entry.name);
    if (entry.name === OPAQUE) {
      throw new KilnError(
        'unsupported_layer',
        `a layer has an opaque-dir whiteout (${path.join(rel, entry.name)}), which Kiln cannot unpack yet`,
        400,
      );
    }
    if (entry.name.startsWith(WHITEOUT)) {
      const target = path.join(root, rel, entry.name.slice(WHITEOUT.length));
      await rm(child, { recursive: true, force: true });
      await rm(target, { recursive: true, force: true });
      await execFileP('mknod', [target, 'c', '0', '0']);
    } else if (entry.isDirectory()) {
      await applyWhiteouts(root, path.join(rel, entry.name));
    } else if (!(entry.isFile() || entry.isSymbolicLink())) {
      await rm(child, { force: true });
    }
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
