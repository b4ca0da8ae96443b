import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathExists } from '../disk.js';
import { parseDigest } from './digest.js';
import { unpackLayer } from './layer-tar.js';

/**
 * Layers unpacked once into `snapshots/<hex>/`, each the lowerdir of every overlay that
 * uses it. A snapshot is unpacked into a temp dir and renamed into place, so a snapshot
 * dir, once it exists, is complete.
 */
export class SnapshotStore {
  private readonly pending = new Map<string, Promise<string>>();

  constructor(readonly root: string) {}

  path(digest: string): string {
    return path.join(this.root, parseDigest(digest));
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

  /** Take a dir that already holds exactly a layer's content (the dir it was packed from). */
  async adopt(digest: string, dir: string): Promise<string> {
    const target = this.path(digest);
    if (await pathExists(target)) {
      await rm(dir, { recursive: true, force: true });
      return target;
    }
    await rename(dir, target);
    return target;
  }

  private async unpack(digest: string, blobPath: string): Promise<string> {
    const target = this.path(digest);
    if (await pathExists(target)) return target;
    const tmp = path.join(this.root, `.tmp-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp);
    try {
      await unpackLayer(blobPath, tmp);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      // Another process committed the same snapshot first: theirs is as good as ours.
      if (await pathExists(target)) return target;
      throw err;
    }
    return target;
  }
}
