import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, rmdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KilnError } from '../errors.js';
import { unmount } from '../image/overlay.js';

const execFileP = promisify(execFile);

/** statfs(2) f_type of the memory filesystems (linux/magic.h): what never reaches a disk. */
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/**
 * Where running instances' copies of their secrets live: one dir per instance, bind-mounted
 * read-only at its `/run/secrets`, on a memory filesystem so a secret's value never reaches
 * a disk outside the secret store (docs/SECURITY.md). The root is `/run/kiln/secrets/<the
 * state root's name>` (one per data dir, as the state root is); where `/run` is not a tmpfs
 * (this host's is on the root filesystem) the gateway mounts one there, 0700, at its first
 * use. What a killed gateway left in it is removed at start-up (`ContainerRuntime.recover`),
 * and a closing gateway unmounts its own.
 */
export class SecretsTmpfs {
  private opened: Promise<void> | undefined;
  private mountedHere = false;

  constructor(readonly root: string) {}

  /** The root of the OCI runtime's state root `stateRoot`: `/run/kiln/secrets/<its name>`. */
  static beside(stateRoot: string): SecretsTmpfs {
    return new SecretsTmpfs(path.join(path.dirname(stateRoot), 'secrets', path.basename(stateRoot)));
  }

  /** Mount it if it is not on a memory filesystem yet; once per process. */
  ready(): Promise<void> {
    this.opened ??= this.open().catch((err) => {
      this.opened = undefined;
      throw err;
    });
    return this.opened;
  }

  /** A new, empty dir for instance `id` (0755: the container's uid reads its files through it). */
  async make(id: string): Promise<string> {
    await this.ready();
    const dir = path.join(this.root, id);
    await mkdir(dir, { mode: 0o755 });
    return dir;
  }

  async remove(id: string): Promise<void> {
    await rm(path.join(this.root, id), { recursive: true, force: true });
  }

  /** Every instance's dir: at start-up, those of a killed gateway's instances. */
  async clear(): Promise<void> {
    await this.ready();
    for (const name of await readdir(this.root))
      await rm(path.join(this.root, name), { recursive: true, force: true });
  }

  /** Unmount the tmpfs this process mounted (instances are gone), and remove the empty root. */
  async close(): Promise<void> {
    if (!this.opened) return;
    await this.opened.catch(() => undefined);
    if (this.mountedHere) await unmount(this.root);
    await rmdir(this.root).catch(() => undefined);
    this.opened = undefined;
    this.mountedHere = false;
  }

  private async open(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    if (await onMemory(this.root)) {
      // A tmpfs a killed gateway of this data dir mounted (its parent is on disk): ours now.
      this.mountedHere = !(await onMemory(path.dirname(this.root)));
      return;
    }
    try {
      await execFileP('mount', [
        '-t',
        'tmpfs',
        '-o',
        'mode=0700,size=64m,nosuid,nodev,noexec',
        'tmpfs',
        this.root,
      ]);
    } catch (err) {
      throw new KilnError(
        'secrets_tmpfs_failed',
        `mounting a tmpfs for instances' secrets at ${this.root} failed: ${(err as Error).message}`,
        500,
      );
    }
    this.mountedHere = true;
  }
}

async function onMemory(dir: string): Promise<boolean> {
  const { type } = await statfs(dir);
  return type === TMPFS_MAGIC || type === RAMFS_MAGIC;
}
