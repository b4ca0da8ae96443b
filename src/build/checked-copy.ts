import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readlink, symlink } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../errors.js';
import { BundleTree } from './bundle-tree.js';

const COPY_CHUNK = 1024 * 1024;

export interface TreeLimits {
  /** Bytes of file content. */
  maxBytes: number;
  /** Files, dirs and links. */
  maxFiles: number;
}

export interface CopyOptions extends TreeLimits {
  /** Top-level names not copied (`kiln.json`). */
  skipTop?: readonly string[];
  /** Says whose tree it is in messages: "the bundle", "the build output". */
  what: string;
}

/**
 * Copy a dir Kiln did not write (a build's output, an unpacked bundle) into `dest` (made),
 * checked like a bundle before anything is written: only files, dirs and symlinks (no
 * fifos, sockets or devices), every symlink resolving inside the tree, at most `maxFiles`
 * entries and `maxBytes` of content. Nothing is followed: entries are read with lstat and
 * files opened with O_NOFOLLOW, and each must still be the regular file of that size.
 * Files become 0644 (0755 when executable), dirs 0755, all owned by the caller.
 */
export async function copyCheckedTree(src: string, dest: string, options: CopyOptions): Promise<void> {
  const { tree, sizes } = await readTree(src, options);
  tree.checkLinks();
  await mkdir(dest, { recursive: true, mode: 0o755 });
  for (const [rel, entry] of tree.list()) {
    const to = path.join(dest, rel);
    if (entry.kind === 'dir') {
      await mkdir(to, { mode: 0o755 });
      await chmod(to, 0o755);
    } else if (entry.kind === 'symlink') {
      await symlink(entry.target ?? '', to);
    } else {
      await copyFile(path.join(src, rel), to, sizes.get(rel) ?? 0, entry.executable === true);
    }
  }
}

async function readTree(
  root: string,
  options: CopyOptions,
): Promise<{ tree: BundleTree; sizes: Map<string, number> }> {
  const tree = new BundleTree();
  const sizes = new Map<string, number>();
  let bytes = 0;
  // The root itself must be a dir, not a link to one: readdir would follow it.
  if (!(await lstat(root)).isDirectory()) {
    throw new KilnError('unsafe_entry', `${options.what} is not a directory`);
  }
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(path.join(root, rel))).sort();
    for (const name of names) {
      if (rel === '' && options.skipTop?.includes(name)) continue;
      const child = rel ? `${rel}/${name}` : name;
      if (tree.size >= options.maxFiles) {
        throw new KilnError(
          'bundle_too_many_files',
          `${options.what} has more than ${options.maxFiles} files and dirs`,
          413,
        );
      }
      const st = await lstat(path.join(root, child));
      if (st.isDirectory()) {
        tree.add(child, { kind: 'dir' });
        await walk(child);
      } else if (st.isSymbolicLink()) {
        tree.add(child, { kind: 'symlink', target: await readlink(path.join(root, child)) });
      } else if (st.isFile()) {
        bytes += st.size;
        if (bytes > options.maxBytes) {
          throw new KilnError(
            'bundle_too_large',
            `${options.what} holds more than ${Math.round(options.maxBytes / 1048576)} MiB`,
            413,
          );
        }
        tree.add(child, { kind: 'file', executable: (st.mode & 0o111) !== 0 });
        sizes.set(child, st.size);
      } else {
        throw new KilnError(
          'unsafe_entry',
          `${options.what} has "${child}", which is not a file, dir or symlink (a fifo, socket or device)`,
        );
      }
    }
  };
  await walk('');
  return { tree, sizes };
}

async function copyFile(from: string, to: string, size: number, executable: boolean): Promise<void> {
  const source = await open(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await source.stat();
    if (!st.isFile() || st.size !== size) {
      throw new KilnError('unsafe_entry', `"${from}" changed while it was copied`);
    }
    const target = await open(to, 'wx', executable ? 0o755 : 0o644);
    try {
      const buf = Buffer.allocUnsafe(Math.min(size, COPY_CHUNK) || 1);
      let copied = 0;
      while (copied < size) {
        const { bytesRead } = await source.read(buf, 0, Math.min(buf.length, size - copied), copied);
        if (bytesRead === 0) break;
        await target.write(buf, 0, bytesRead);
        copied += bytesRead;
      }
      await target.chmod(executable ? 0o755 : 0o644);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
