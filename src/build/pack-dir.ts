import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import * as tar from 'tar';
import { listTree } from '../image/layer-tar.js';

/** Whether a path of a function dir goes into its bundle: all but `.git`. */
export function isPacked(rel: string): boolean {
  return !rel.split('/').includes('.git');
}

/** A function dir as the gzip tar `POST /functions` takes (what `tar czf - -C dir .` makes). */
export async function packDir(dir: string): Promise<Buffer> {
  // node-tar reads an entry starting with "@" as an archive to append: "./" keeps it a file.
  const entries = (await listTree(dir)).filter(isPacked).map((p) => (p.startsWith('@') ? `./${p}` : p));
  const stream = tar.c({ cwd: dir, gzip: true, portable: true, noDirRecurse: true }, entries);
  return buffer(stream as unknown as Readable);
}
