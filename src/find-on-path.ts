import { access, constants } from 'node:fs/promises';
import path from 'node:path';

/** The first executable `name` on `$PATH` (or the usual system dirs), like `command -v`. */
export async function findOnPath(name: string): Promise<string | undefined> {
  const dirs = (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(
    ':',
  );
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this dir
    }
  }
  return undefined;
}
