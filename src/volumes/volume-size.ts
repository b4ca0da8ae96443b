import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { KilnError } from '../errors.js';

/**
 * Bytes of the regular files in a volume's data dir (apparent sizes, each hard link once),
 * walked by GNU find, not by node. Instances write the volume while the gateway sizes it, and
 * node's fs can only walk by path: a function that swaps a directory for a symlink to `/`
 * between node's readdir and its descent would make the gateway walk the host (found in
 * review). find walks with gnulib's fts (`-P`: FTS_PHYSICAL), which opens each directory with
 * O_NOFOLLOW relative to its parent's descriptor and checks its device and inode, so a swap
 * cannot lead it out; `-xdev` keeps it on the volume's filesystem.
 */
export async function volumeBytes(dir: string): Promise<number> {
  const find = spawn('find', ['-P', dir, '-xdev', '-type', 'f', '-printf', '%D:%i %s\n'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // findutils is Essential on Debian and Ubuntu; without it a size is unknown, not a crash.
  const failed = new Promise<never>((_, reject) =>
    find.once('error', (err) =>
      reject(new KilnError('volume_size_failed', `cannot size a volume: find: ${err.message}`, 500)),
    ),
  );
  failed.catch(() => {});
  const seen = new Set<string>();
  let total = 0;
  for await (const line of createInterface({ input: find.stdout })) {
    const space = line.indexOf(' ');
    const key = line.slice(0, space);
    if (seen.has(key)) continue;
    seen.add(key);
    total += Number(line.slice(space + 1)) || 0;
  }
  // A file removed while find ran makes it exit 1 having printed the rest: the size is still
  // the best one there is, so the exit status is not checked.
  await Promise.race([
    failed,
    new Promise((resolve) => (find.exitCode !== null ? resolve(undefined) : find.once('close', resolve))),
  ]);
  return total;
}
