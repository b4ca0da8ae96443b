import { open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from './errors.js';
import { ownerIsLive, processOwner } from './process-owner.js';

/**
 * One gateway per data dir. A gateway's start-up removes every container, mount and work
 * dir the data dir's last run left (`ContainerRuntime.recover`, `clearDebris`): a second
 * `kiln serve` on a data dir in use stopped the first one's instances before it failed on
 * the port (found trying the README's quick start twice). The owner is a pid file, made with
 * O_EXCL; a file whose process is gone (a kill -9, a reboot) is stale and taken over.
 * The pid is kept with the process's start time (`processOwner`), so a reused pid is not
 * mistaken for the owner.
 */
export class DataDirLock {
  private constructor(
    private readonly file: string,
    private readonly owner: string,
  ) {}

  static async acquire(root: string): Promise<DataDirLock> {
    const file = path.join(root, 'gateway.pid');
    const owner = await processOwner();
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(file, 'wx', 0o644);
        try {
          await fh.writeFile(owner);
          await fh.sync();
        } finally {
          await fh.close();
        }
        return new DataDirLock(file, owner);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = (await readFile(file, 'utf8').catch(() => '')).trim();
      const [pid] = held.split(' ');
      // The same process opening its data dir again (tests restart a Kiln in-process) owns it.
      if (pid !== String(process.pid) && (await ownerIsLive(held))) {
        throw new KilnError(
          'data_dir_in_use',
          `another Kiln gateway (pid ${pid}) uses the data dir ${root}: stop it first, or give this one a data dir of its own (KILN_DATA)`,
          409,
        );
      }
      // Stale: its process is gone. Whoever creates the file next owns the dir.
      await unlink(file).catch(() => undefined);
    }
    throw new KilnError(
      'data_dir_in_use',
      `could not take ${file}: another gateway is starting on ${root}`,
      409,
    );
  }

  /** Remove the pid file if it is still this process's. */
  async release(): Promise<void> {
    const held = (await readFile(this.file, 'utf8').catch(() => '')).trim();
    if (held === this.owner) await unlink(this.file).catch(() => undefined);
  }
}
