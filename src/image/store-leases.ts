import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KilnError } from '../errors.js';
import { ownerIsLive, processOwner } from '../process-owner.js';

const POLL_MS = 25;

/**
 * Who may write to an image store while a prune sweeps it, as containerd's leases keep
 * content a writer has not yet referenced from its garbage collector. A writer (a deploy, a
 * base-image build, a pull, a load, a push's gzip copies) holds a lease for as long as what
 * it writes may be unreferenced: blobs before their manifest is tagged or recorded in a
 * function version. A prune holds the store's prune lock, and sweeps only once no lease is
 * held. Both are files, because the gateway and `kiln` commands (`pull`, `load`,
 * `runtimes build`) share one store:
 *
 *   writer: create `leases/<random>` (its owner), then look for `prune.lock`: none (or a
 *           dead owner's) → write; else remove the lease, wait for the lock to go, start over.
 *   pruner: create `prune.lock` (O_EXCL, its owner), then wait until every lease in
 *           `leases/` is gone or a dead owner's (those it removes); sweep; remove the lock.
 *
 * Each side makes its own file before it looks for the other's, so either the writer sees
 * the lock or the pruner sees the lease (never neither). The writers of one process share
 * one lease, held while any of them writes: a lease taken inside another (a deploy building
 * its base image) must not wait for a pruner that waits for the outer one. Counted rather
 * than found with an AsyncLocalStorage: that turns on async hooks for every promise of the
 * gateway for good, which was 4–6% of its CPU on the invoke path (a CPU profile at 64
 * connections, issue 9).
 */
export class StoreLeases {
  private readonly dir: string;
  private readonly lockPath: string;
  /** This process's lease while any writer holds it, and how many do. */
  private shared: { holders: number; lease: Promise<string> } | undefined;
  /** This process as lease and lock files name it (read from /proc once, after the leases dir is made). */
  private owner: Promise<string> | undefined;

  constructor(root: string) {
    this.dir = path.join(root, 'leases');
    this.lockPath = path.join(root, 'prune.lock');
  }

  /** Run `write` under a lease: no prune sweeps while it runs; it waits for one that does. */
  async hold<T>(write: () => Promise<T>): Promise<T> {
    this.shared ??= { holders: 0, lease: this.acquire() };
    const held = this.shared;
    held.holders++;
    try {
      await held.lease;
      return await write();
    } finally {
      if (--held.holders === 0) {
        if (this.shared === held) this.shared = undefined;
        const lease = await held.lease.catch(() => undefined);
        if (lease) await rm(lease, { force: true });
      }
    }
  }

  /**
   * Run `sweep` with the prune lock held and no lease live. Another prune under way is 409
   * `prune_in_progress`; leases still held after `waitMs` are 409 `store_busy`.
   */
  async exclusive<T>(sweep: () => Promise<T>, waitMs = 60_000): Promise<T> {
    await this.takeLock();
    try {
      const deadline = Date.now() + waitMs;
      while (await this.liveLeases()) {
        if (Date.now() > deadline) {
          throw new KilnError(
            'store_busy',
            'deploys or image transfers kept writing to the image store: try the prune again when they are done',
            409,
          );
        }
        await sleep(POLL_MS);
      }
      return await sweep();
    } finally {
      await rm(this.lockPath, { force: true });
    }
  }

  private async acquire(): Promise<string> {
    this.owner ??= mkdir(this.dir, { recursive: true }).then(() => processOwner());
    const owner = await this.owner;
    for (;;) {
      const lease = path.join(this.dir, randomBytes(8).toString('hex'));
      const fh = await open(lease, 'wx', 0o644).catch(async (err: NodeJS.ErrnoException) => {
        // The leases dir went since this process made it (a store emptied by hand): again.
        if (err.code !== 'ENOENT') throw err;
        await mkdir(this.dir, { recursive: true });
        return open(lease, 'wx', 0o644);
      });
      try {
        await fh.writeFile(owner);
      } finally {
        await fh.close();
      }
      if (!(await this.lockIsLive())) return lease;
      await rm(lease, { force: true });
      while (await this.lockIsLive()) await sleep(POLL_MS);
    }
  }

  private async takeLock(): Promise<void> {
    const owner = await processOwner();
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.lockPath, 'wx', 0o644);
        try {
          await fh.writeFile(owner);
        } finally {
          await fh.close();
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (await this.lockIsLive()) break;
      // Its pruner is gone (a kill -9): whoever creates the file next holds the lock.
      await rm(this.lockPath, { force: true });
    }
    throw new KilnError('prune_in_progress', 'another prune of this image store is under way', 409);
  }

  private async lockIsLive(): Promise<boolean> {
    const owner = await readFile(this.lockPath, 'utf8').catch(() => undefined);
    return owner !== undefined && (await ownerIsLive(owner));
  }

  /** Whether a live writer holds a lease; dead writers' leases are removed on the way. */
  private async liveLeases(): Promise<boolean> {
    let live = false;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const file = path.join(this.dir, name);
      const owner = await readFile(file, 'utf8').catch(() => undefined);
      if (owner === undefined) continue;
      if (await ownerIsLive(owner)) live = true;
      else await rm(file, { force: true });
    }
    return live;
  }
}
