import { readFile } from 'node:fs/promises';

/**
 * A process named so that a reused pid is not mistaken for it: `<pid> <start time>`, the
 * start time being `/proc/<pid>/stat` field 22 (clock ticks since boot, proc(5)). Lock and
 * lease files hold one; a file whose owner is gone (a kill -9, a reboot) is stale.
 */
export async function processOwner(pid = process.pid): Promise<string> {
  return `${pid} ${await startTimeOf(pid)}`;
}

/** Whether the owner a lock or lease file names (`processOwner`'s text) is still running. */
export async function ownerIsLive(owner: string): Promise<boolean> {
  const [pid, started] = owner.trim().split(' ');
  return isRunning(Number(pid), started);
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
