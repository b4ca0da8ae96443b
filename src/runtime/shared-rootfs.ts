import { createHash } from 'node:crypto';
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { mountOverlay, unmount } from '../image/overlay.js';

/** A rootfs an instance runs from, and what gives it back when the instance is gone. */
export interface RootfsHold {
  readonly path: string;
  release(): Promise<void>;
}

interface SharedMount {
  readonly path: string;
  refs: number;
  readonly ready: Promise<void>;
}

/**
 * Read-only overlay roots shared by the instances of one function version: one mount, so
 * one superblock, instead of one each. Measured at 1000 idle instances (issue 9, density):
 * every superblock costs each memory cgroup on the host a shrinker slot (1 KiB per 64
 * superblocks, mm/shrinker.c), so a per-instance overlay cost ~16 KiB per instance in
 * slots alone, besides its superblock and an overlay inode and dentry for every file the
 * instance opened (~40 KiB). An overlay of lowerdirs only never changes, so sharing it shows
 * each instance the same files it would have had.
 *
 * Shared only within one key (the pool's: a function version), never across tenants: file
 * locks and inotify watches live on the overlay's own inodes, so instances on one mount can
 * see each other's flock(2)s and opens. A container keeps its mount alive in its own mount
 * namespace, so a lazy unmount here after the last release never pulls a root from under a
 * running process.
 */
export class SharedRootfs {
  private readonly mounts = new Map<string, SharedMount>();
  private seq = 0;

  constructor(readonly dir: string) {}

  /** The shared mount of `layers` for `key`, mounted at the first acquire; release once. */
  async acquire(key: string, layers: string[]): Promise<RootfsHold> {
    const id = `${key}\n${layers.join('\n')}`;
    let mount = this.mounts.get(id);
    if (!mount) {
      // A new path each time: an unmount of the previous mount of this id may still run.
      const at = path.join(
        this.dir,
        `${createHash('sha256').update(id).digest('hex').slice(0, 16)}-${this.seq++}`,
      );
      mount = { path: at, refs: 0, ready: this.mount(layers, at) };
      this.mounts.set(id, mount);
    }
    mount.refs++;
    try {
      await mount.ready;
    } catch (err) {
      // Whoever comes next mounts afresh.
      mount.refs--;
      if (this.mounts.get(id) === mount) this.mounts.delete(id);
      throw err;
    }
    let released = false;
    const held = mount;
    return {
      path: held.path,
      release: async () => {
        if (released) return;
        released = true;
        await this.drop(id, held);
      },
    };
  }

  /** Mounts left by a killed gateway: nothing runs from them any more (`ContainerRuntime.recover`). */
  async clear(): Promise<void> {
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const at = path.join(this.dir, name);
      await unmount(at);
      await rmdir(at).catch(() => undefined);
    }
  }

  private async mount(layers: string[], at: string): Promise<void> {
    await mkdir(at, { recursive: true });
    try {
      await mountOverlay(layers, at);
    } catch (err) {
      await rmdir(at).catch(() => undefined);
      throw err;
    }
  }

  private async drop(id: string, mount: SharedMount): Promise<void> {
    if (--mount.refs > 0) return;
    if (this.mounts.get(id) === mount) this.mounts.delete(id);
    await unmount(mount.path);
    await rmdir(mount.path).catch(() => undefined);
  }
}
