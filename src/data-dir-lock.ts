import { open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from './errors.js';

/**
 * One gateway per data dir. A gateway's start-up removes every container, mount and work
 * dir the data dir's last run left (`ContainerRuntime.recover`, `clearDebris`): a second
 * `kiln serve` on a data dir in use stopped the first one's instances before it failed on
 * the port (found trying the README's quick start twice). The owner is a pid file, made with
 * O_EXCL; a file whose process is gone (a kill -9, a reboot) is stale and taken over.
 * The pid is kept with the process's start time (`/proc/<pid>/stat` field 22, in clock
 * ticks since boot, proc(5)), so a reused pid is not mistaken for the owner.
 */
export class DataDirLock {
  private constructor(
    private readonly file: string,
    private readonly owner: string,
  ) {}

  static async acquire(root: string): Promise<DataDirLock> {
    const file = path.join(root, 'gateway.pid');
    const owner = `${process.pid} ${await startTimeOf(process.pid)}`;
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
      const [pid, started] = held.split(' ');
      // The same process opening its data dir again (tests restart a Kiln in-process) owns it.
      if (pid !== String(process.pid) && (await isRunning(Number(pid), started))) {
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

/** A live process's start time in clock ticks since boot; undefined if it is gone (or a zombie). */
async function startTimeOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' ? undefined : fields[19];
}

async function isRunning(pid: number, started: string | undefined): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = await startTimeOf(pid);
  return now !== undefined && (started === undefined || started === 'undefined' || now === started);
}
