import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { listTree } from '../image/layer-tar.js';

/**
 * A digest of a received bundle's files: every path (sorted), its kind, a file's execute bit
 * and content, a link's target. Tar metadata (mtimes, owners, entry order, gzip level) is
 * not part of it, so `kiln deploy` of an unchanged dir gives the same digest however the
 * tar was made. Hard links count as the files they name. `include` picks paths, so that the
 * CLI digests a dir as the bundle it would send (`kiln apply` compares before it packs).
 */
export async function sourceDigest(
  dir: string,
  include: (rel: string) => boolean = () => true,
): Promise<string> {
  const all = createHash('sha256');
  for (const rel of await listTree(dir)) {
    if (!include(rel)) continue;
    const full = path.join(dir, rel);
    const st = await lstat(full);
    if (st.isDirectory()) all.update(`d ${JSON.stringify(rel)}\n`);
    else if (st.isSymbolicLink())
      all.update(`l ${JSON.stringify(rel)} ${JSON.stringify(await readlink(full))}\n`);
    else {
      const content = createHash('sha256');
      await pipeline(createReadStream(full), content);
      all.update(`f ${JSON.stringify(rel)} ${st.mode & 0o111 ? 'x' : '-'} ${content.digest('hex')}\n`);
    }
  }
  return `sha256:${all.digest('hex')}`;
}
