import { gzipSync } from 'node:zlib';
import * as tar from 'tar';

export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'BlockDevice' | 'FIFO';
  linkpath?: string;
  body?: string | Buffer;
  mode?: number;
  /** The size the header declares (default: the body's). */
  size?: number;
}

function header(e: RawEntry, size: number): Buffer {
  const type = e.type ?? 'File';
  const block = Buffer.alloc(512);
  new tar.Header({
    path: e.path,
    type,
    mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
    size,
    linkpath: e.linkpath,
    mtime: new Date(0),
    uid: 0,
    gid: 0,
  }).encode(block, 0);
  return block;
}

/**
 * A tar written header by header, so tests can make the hostile entries (device nodes,
 * `..` paths, links out, lying sizes) that no well-behaved packer produces.
 */
export function rawTar(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const isFile = (e.type ?? 'File') === 'File';
    blocks.push(header(e, e.size ?? (isFile ? body.length : 0)));
    if (isFile && body.length) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function rawTarGz(entries: RawEntry[]): Buffer {
  return gzipSync(rawTar(entries));
}

/**
 * A gzip body that inflates to `inflatedMiB` MiB: a tar header (one file declaring
 * `declaredSize` bytes; 0 for an empty file, so the zeros follow the tar's end) and then
 * zeros, as concatenated gzip members (RFC 1952 §2.2), so that making a 10 GiB bomb costs
 * one 64 MiB compression, not ten thousand.
 */
export function gzipBomb(options: { declaredSize: number; inflatedMiB: number }): Buffer {
  const head = gzipSync(header({ path: 'zeros' }, options.declaredSize), { level: 9 });
  const chunkMiB = 64;
  const member = gzipSync(Buffer.alloc(chunkMiB * 1024 * 1024), { level: 9 });
  const members = Math.ceil(options.inflatedMiB / chunkMiB);
  return Buffer.concat([head, ...Array.from({ length: members }, () => member)]);
}
