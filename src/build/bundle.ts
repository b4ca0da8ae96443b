import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar';
import { KilnError } from '../errors.js';

export const DEFAULT_BUNDLE_LIMIT = 64 * 1024 * 1024;

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/**
 * Check every entry of a gzip tar before any byte of it reaches the disk: a bundle is
 * untrusted input. Refused: paths that are absolute or climb with `..`, links whose
 * target leaves the bundle, device nodes and fifos, and more than `limit` bytes unpacked.
 */
export async function inspectBundle(gz: Uint8Array, limit = DEFAULT_BUNDLE_LIMIT): Promise<Buffer> {
  if (gz.length < 2 || gz[0] !== 0x1f || gz[1] !== 0x8b) {
    throw new KilnError(
      'invalid_bundle',
      'the body is not a gzip tar (send `tar czf - -C <dir> .` with content-type application/gzip)',
    );
  }
  let raw: Buffer;
  try {
    // maxOutputLength turns a gzip bomb into an error instead of an allocation.
    raw = gunzipSync(gz, { maxOutputLength: limit + 1024 * 1024 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit);
    throw new KilnError('invalid_bundle', `the body is not valid gzip: ${(err as Error).message}`);
  }
  let total = 0;
  let entries = 0;
  const problems: KilnError[] = [];
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      entries++;
      const problem = checkEntry(entry.path, entry.type, entry.linkpath);
      if (problem) problems.push(problem);
      total += entry.size ?? 0;
      entry.resume();
    },
  });
  try {
    await pipeline(Readable.from([raw]), parser);
  } catch (err) {
    throw new KilnError('invalid_bundle', `the body is not a valid tar: ${(err as Error).message}`);
  }
  if (problems[0]) throw problems[0];
  if (entries === 0) throw new KilnError('invalid_bundle', 'the bundle is an empty tar');
  if (total > limit) throw tooLarge(limit);
  return raw;
}

export function checkEntry(entryPath: string, type: string, linkpath?: string): KilnError | undefined {
  if (path.posix.isAbsolute(entryPath) || /^[a-zA-Z]:/.test(entryPath)) {
    return new KilnError('unsafe_path', `bundle entry "${entryPath}" is an absolute path`);
  }
  if (entryPath.split(/[\\/]/).includes('..')) {
    return new KilnError('unsafe_path', `bundle entry "${entryPath}" climbs out of the bundle with ".."`);
  }
  if (!ALLOWED_TYPES.has(type)) {
    const what = type.endsWith('Device') ? 'a device node' : type === 'FIFO' ? 'a fifo' : `of type ${type}`;
    return new KilnError(
      'unsafe_entry',
      `bundle entry "${entryPath}" is ${what}; only files, dirs and links are allowed`,
    );
  }
  if (type === 'SymbolicLink' || type === 'Link') {
    const target = linkpath ?? '';
    // A symlink resolves from its own dir; a hardlink names a path from the archive root.
    const base = type === 'SymbolicLink' ? path.posix.dirname(entryPath) : '.';
    const resolved = path.posix.normalize(path.posix.join(base, target));
    if (path.posix.isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
      const kind = type === 'SymbolicLink' ? 'symlink' : 'hardlink';
      return new KilnError(
        'unsafe_link',
        `bundle entry "${entryPath}" is a ${kind} to "${target}", outside the bundle`,
      );
    }
  }
  return undefined;
}

function tooLarge(limit: number): KilnError {
  return new KilnError(
    'bundle_too_large',
    `the bundle unpacks to more than ${limit / (1024 * 1024)} MiB`,
    413,
  );
}

/**
 * Unpack an inspected tar into `dest` (created). When the tar holds one top dir and
 * nothing else (`tar czf b.tgz myfn/`), that dir is the bundle.
 */
export async function unpackBundle(raw: Buffer, dest: string): Promise<string> {
  await mkdir(dest, { recursive: true });
  await pipeline(
    Readable.from([raw]),
    tar.x({ cwd: dest, strict: true, preserveOwner: false, noChmod: false }),
  );
  const top = await readdir(dest, { withFileTypes: true });
  if (top.length === 1 && top[0]!.isDirectory()) {
    const inner = path.join(dest, top[0]!.name);
    const lifted = `${dest}.lift`;
    await rename(inner, lifted);
    await rm(dest, { recursive: true });
    await rename(lifted, dest);
  }
  return dest;
}
