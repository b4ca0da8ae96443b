import { open, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A cross-process lock made of a file created with O_EXCL: the gateway and a `kiln`
 * command may update the same `index.json`. A lock older than `staleMs` is taken to be
 * left by a crashed process and is broken.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, staleMs = 30_000): Promise<T> {
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const info = await stat(lockPath).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > staleMs) await rm(lockPath, { force: true });
      else await sleep(5);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}
