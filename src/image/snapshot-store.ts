import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathExists, syncPath } from '../disk.js';
import { parseDigest } from './digest.js';
import { unpackLayer } from './layer-tar.js';

/**
 * Layers unpacked once into `snapshots/<hex>/`, each the lowerdir of every overlay that
 * uses it (an instance's read-only rootfs, a build step's writable overlay). A snapshot is
 * made in a temp dir and renamed into place, so a snapshot dir, once it exists, is
 * complete. Two makers of one snapshot at once (two deploys of the same code, two Kiln
 * processes on one data dir) are safe: the first rename wins, and the loser's dir, which
 * holds the same content, is dropped.
 */
export class SnapshotStore {
  private readonly pending = new Map<string, Promise<string>>();

  constructor(readonly root: string) {}

  path(digest: string): string {
    return path.join(this.root, parseDigest(digest));
  }

  /** Digests of every complete snapshot (temp dirs being made are not listed). */
  async list(): Promise<string[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((hex) => `sha256:${hex}`);
  }

  async has(digest: string): Promise<boolean> {
    return pathExists(this.path(digest));
  }

  /** The snapshot dir of a layer, unpacking the layer's blob on first use. */
  ensure(digest: string, blobPath: string): Promise<string> {
    let p = this.pending.get(digest);
    if (!p) {
      p = this.unpack(digest, blobPath).finally(() => this.pending.delete(digest));
      this.pending.set(digest, p);
    }
    return p;
  }

  /**
   * Take a dir that already holds exactly a layer's content (the dir it was packed from):
   * it becomes the snapshot, or is dropped when the snapshot exists already.
   */
  async adopt(digest: string, dir: string): Promise<string> {
    const target = this.path(digest);
    if (await pathExists(target)) {
      await rm(dir, { recursive: true, force: true });
      return target;
    }
    return this.commit(dir, target);
  }

  private async unpack(digest: string, blobPath: string): Promise<string> {
    const target = this.path(digest);
    if (await pathExists(target)) return target;
    const tmp = path.join(this.root, `.tmp-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp);
    try {
      await unpackLayer(blobPath, tmp);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return this.commit(tmp, target);
  }

  /** Rename `dir` to `target`; when someone else committed it first, theirs is as good as ours. */
  private async commit(dir: string, target: string): Promise<string> {
    try {
      await rename(dir, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // rename(2) onto a non-empty dir fails with ENOTEMPTY (or EEXIST on some filesystems).
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await pathExists(target))) throw err;
      await rm(dir, { recursive: true, force: true });
      return target;
    }
    await syncPath(this.root);
    return target;
  }
}
