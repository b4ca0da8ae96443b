import { chmod, type FileHandle, link, mkdir, open, symlink } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import { KilnError } from '../errors.js';
import { BundleTree, type EntryKind, normalizeEntryPath } from './bundle-tree.js';

export interface BundleLimits {
  /** Bytes of file content once unpacked (413 `bundle_too_large`). */
  maxBytes: number;
  /** Entries: files, dirs and links (413 `bundle_too_many_files`). */
  maxFiles: number;
  /** Bytes of the gzip body as sent (413 `bundle_too_large`). */
  maxBodyBytes: number;
}

export const DEFAULT_BUNDLE_LIMITS: BundleLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxFiles: 10_000,
  maxBodyBytes: 128 * 1024 * 1024,
};

/** Tar's own bytes around the content: a 512-byte header and up to 511 of padding per entry. */
const TAR_OVERHEAD_PER_ENTRY = 1024;
/** File writes in flight at once while a tar streams in (empty files come faster than opens finish). */
const WRITES_IN_FLIGHT = 32;

const TYPES: Record<string, EntryKind> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'dir',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
};

export interface ReceivedBundle {
  /** Entries written: files, dirs and links. */
  entries: number;
  /** Bytes of file content. */
  bytes: number;
}

/**
 * Unpack a gzip tar from a stream into `dest` (made), checking every entry as it arrives
 * (docs/DESIGN.md §8): paths (no absolute, `..`, backslash, drive letter, control
 * character), types (files, dirs, symlinks, hardlinks only), the file count and the byte
 * count (refused at the header that crosses them, before the content is read), and the
 * body and inflated sizes (a gzip bomb stops at the cap). Gunzip runs on libuv's thread
 * pool and files are written asynchronously, so a deploy never blocks the event loop.
 *
 * No write ever goes through a link: links are recorded and made only at the end, after
 * every symlink's fully resolved target (through every chain in the bundle) is known to
 * stay inside. Any refusal is a 4xx KilnError; what was written stays for the caller to
 * remove with its work dir.
 */
export async function receiveBundle(
  body: Readable,
  dest: string,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<ReceivedBundle> {
  await mkdir(dest, { recursive: true, mode: 0o755 });
  await chmod(dest, 0o755);
  const sink = new TarSink(dest, limits);
  const inflatedCap = limits.maxBytes + (limits.maxFiles + 2) * TAR_OVERHEAD_PER_ENTRY + 1024 * 1024;
  try {
    await pipeline(
      body,
      new ByteCap(limits.maxBodyBytes, () =>
        tooLarge(`the request body is larger than ${mib(limits.maxBodyBytes)}`),
      ),
      new MagicCheck(),
      createGunzip(),
      new ByteCap(inflatedCap, () => tooLarge(`the bundle unpacks to more than ${mib(limits.maxBytes)}`)),
      sink,
    );
  } catch (err) {
    sink.fail(asBundleError(err));
    // Writes still in flight must end before the caller removes `dest`, or a late mkdir
    // or open would make files there again.
    await sink.abort();
    throw sink.failure;
  }
  if (sink.tree.size === 0) throw new KilnError('invalid_bundle', 'the bundle is an empty tar');
  sink.tree.checkLinks();
  await sink.makeLinks();
  return { entries: sink.tree.size, bytes: sink.bytes };
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

function tooLarge(message: string): KilnError {
  return new KilnError('bundle_too_large', message, 413);
}

/**
 * Stream and zlib errors as the client's fault (the body is not what it claims); anything
 * else (EIO, ENOSPC on the host) stays what it is, a 500.
 */
function asBundleError(err: unknown): Error {
  if (err instanceof KilnError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.code?.startsWith('Z_') || e?.code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new KilnError('invalid_bundle', `the body is not valid gzip: ${e.message}`);
  }
  if (e?.code && ['ENAMETOOLONG', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EINVAL', 'ELOOP'].includes(e.code)) {
    return new KilnError('invalid_bundle', `the bundle cannot be unpacked: ${e.message}`);
  }
  if (e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_DESTROYED' || e?.name === 'AbortError') {
    return new KilnError('invalid_bundle', 'the request body ended early');
  }
  return err instanceof Error ? err : new KilnError('invalid_bundle', String(err));
}

/** Passes bytes through until more than `cap` have gone by. */
class ByteCap extends Transform {
  private seen = 0;

  constructor(
    private readonly cap: number,
    private readonly refusal: () => KilnError,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.cap) done(this.refusal());
    else done(null, chunk);
  }
}

/** Refuses a body that does not start with gzip's magic bytes (RFC 1952 §2.3.1). */
class MagicCheck extends Transform {
  private head = Buffer.alloc(0);
  private checked = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.checked) {
      done(null, chunk);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < 2) {
      done();
      return;
    }
    this.checked = true;
    if (this.head[0] !== 0x1f || this.head[1] !== 0x8b) done(notGzip());
    else done(null, this.head);
  }

  override _flush(done: TransformCallback): void {
    done(this.checked ? null : notGzip());
  }
}

function notGzip(): KilnError {
  return new KilnError(
    'invalid_bundle',
    'the body is not a gzip tar (send `tar czf - -C <dir> .` with content-type application/gzip)',
  );
}

/** The tar parser as a Writable, with the entries it reads checked and written under `dest`. */
class TarSink extends Writable {
  readonly tree = new BundleTree();
  bytes = 0;
  failure: Error | undefined;
  private readonly parser: tar.Parser;
  private readonly writes = new Set<Promise<void>>();
  private readonly files = new Set<FileSink>();
  private readonly links: { at: string; kind: 'symlink' | 'hardlink'; target: string }[] = [];
  private readonly dirs = new Set<string>(['']);
  private readonly made = new Map<string, Promise<unknown>>();
  private ended: Promise<void>;
  private first = true;
  /** Past the archive's end marker: what follows is padding, read (and counted) but not parsed. */
  private eof = false;

  constructor(
    private readonly dest: string,
    private readonly limits: BundleLimits,
  ) {
    super({ highWaterMark: 64 * 1024 });
    // strict: every malformed header is an error, not a warning. maxMetaEntrySize bounds
    // what a pax header may make the parser hold in memory.
    this.parser = new tar.Parser({ strict: true, maxMetaEntrySize: 1024 * 1024 });
    this.parser.on('entry', (entry: tar.ReadEntry) => this.onEntry(entry));
    // node-tar keeps every byte after the end marker in one growing buffer (a concat per
    // chunk): a bomb of zeros after the end would cost quadratic time. Those bytes are not
    // given to it.
    this.parser.on('eof', () => {
      this.eof = true;
    });
    this.ended = new Promise((resolve, reject) => {
      this.parser.on('end', resolve);
      this.parser.on('error', (err: Error) => {
        this.fail(new KilnError('invalid_bundle', `the body is not a valid tar: ${err.message}`));
        reject(this.failure);
      });
    });
    this.ended.catch(() => undefined);
  }

  fail(err: Error): void {
    this.failure ??= err;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.first) {
      this.first = false;
      // A tar inside the gzip, not another compressed stream the parser would inflate on
      // its own, past the caps counted here (gzip 1f 8b; zstd 28 b5 2f fd).
      const zstd = chunk.length >= 4 && chunk.readUInt32BE(0) === 0x28b52ffd;
      if ((chunk[0] === 0x1f && chunk[1] === 0x8b) || zstd) {
        done(new KilnError('invalid_bundle', 'the gzip body holds another compressed stream, not a tar'));
        return;
      }
    }
    if (this.eof) {
      done();
      return;
    }
    let flowing = true;
    try {
      flowing = this.parser.write(chunk);
    } catch (err) {
      this.fail(new KilnError('invalid_bundle', `the body is not a valid tar: ${(err as Error).message}`));
    }
    const next = (): void => {
      if (this.failure) done(this.failure);
      else if (this.writes.size >= WRITES_IN_FLIGHT) void Promise.race(this.writes).then(next, next);
      else done();
    };
    if (flowing || this.failure) next();
    else this.parser.once('drain', next);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.failure) {
      done(this.failure);
      return;
    }
    this.parser.end();
    this.ended
      .then(() => Promise.all(this.writes))
      .then(
        () => done(this.failure ?? null),
        () => done(this.failure ?? new KilnError('invalid_bundle', 'the body is not a valid tar')),
      );
  }

  private onEntry(entry: tar.ReadEntry): void {
    if (this.failure) {
      entry.resume();
      return;
    }
    try {
      this.take(entry);
    } catch (err) {
      this.fail(err instanceof KilnError ? err : new KilnError('invalid_bundle', (err as Error).message));
      entry.resume();
    }
  }

  private take(entry: tar.ReadEntry): void {
    const rel = normalizeEntryPath(entry.path);
    const kind = TYPES[entry.type];
    if (!kind) {
      const what = entry.type.endsWith('Device')
        ? 'a device node'
        : entry.type === 'FIFO'
          ? 'a fifo'
          : `of type ${entry.type}`;
      throw new KilnError(
        'unsafe_entry',
        `bundle entry "${rel}" is ${what}; only files, dirs and links are allowed`,
      );
    }
    if (rel !== '' && this.tree.size >= this.limits.maxFiles && !this.tree.get(rel)) {
      throw new KilnError(
        'bundle_too_many_files',
        `the bundle has more than ${this.limits.maxFiles} files, dirs and links`,
        413,
      );
    }
    if (kind === 'file') {
      this.bytes += entry.size;
      if (this.bytes > this.limits.maxBytes)
        throw tooLarge(`the bundle unpacks to more than ${mib(this.limits.maxBytes)}`);
    }
    const target =
      kind === 'symlink'
        ? (entry.linkpath ?? '')
        : kind === 'hardlink'
          ? hardlinkTarget(rel, entry.linkpath)
          : undefined;
    this.tree.add(rel, { kind, target, executable: ((entry.mode ?? 0) & 0o111) !== 0 });
    if (rel === '') {
      entry.resume();
      return;
    }
    if (kind === 'file') {
      const file = new FileSink(
        this.dirOf(rel),
        path.join(this.dest, rel),
        ((entry.mode ?? 0) & 0o111) !== 0 ? 0o755 : 0o644,
        entry.size,
      );
      this.files.add(file);
      entry.pipe(file);
      this.track(
        new Promise<void>((resolve, reject) => {
          file.once('close', () => {
            this.files.delete(file);
            if (file.errored) reject(file.errored);
            else resolve();
          });
        }),
      );
    } else {
      entry.resume();
      if (kind === 'dir') this.dirs.add(rel);
      else this.links.push({ at: rel, kind, target: target ?? '' });
    }
  }

  /** The dir an entry goes in, made once however many files it holds. */
  private dirOf(rel: string): Promise<unknown> {
    const parent = path.dirname(path.join(this.dest, rel));
    let made = this.made.get(parent);
    if (!made) {
      made = mkdir(parent, { recursive: true, mode: 0o755 });
      this.made.set(parent, made);
    }
    return made;
  }

  private track(write: Promise<void>): void {
    const tracked = write.then(
      () => {
        this.writes.delete(tracked);
      },
      (err: unknown) => {
        this.writes.delete(tracked);
        this.fail(asBundleError(err));
      },
    );
    this.writes.add(tracked);
  }

  /** Stop every file write still going and wait until each has closed its file. */
  async abort(): Promise<void> {
    for (const file of this.files) file.destroy();
    await Promise.allSettled([...this.writes]);
  }

  /** After every file is written and every link checked: dirs, hardlinks, then symlinks. */
  async makeLinks(): Promise<void> {
    for (const [rel, entry] of this.tree.list()) {
      if (entry.kind === 'dir') this.dirs.add(rel);
    }
    // Parents first (the set keeps the tar's order, and a parent comes before its children
    // in the tree's list), WRITES_IN_FLIGHT at a time: every dir 0755 whatever the umask.
    const dirs = [...this.dirs].map((rel) => path.join(this.dest, rel));
    for (let i = 0; i < dirs.length; i += WRITES_IN_FLIGHT) {
      const batch = dirs.slice(i, i + WRITES_IN_FLIGHT);
      await Promise.all(
        batch.map((d) => mkdir(d, { recursive: true, mode: 0o755 }).then(() => chmod(d, 0o755))),
      );
    }
    // Hardlinks before symlinks: no path used by link() may go through a symlink.
    for (const l of this.links.filter((x) => x.kind === 'hardlink')) {
      await link(path.join(this.dest, l.target), path.join(this.dest, l.at));
    }
    for (const l of this.links.filter((x) => x.kind === 'symlink')) {
      await symlink(l.target, path.join(this.dest, l.at));
    }
  }
}

/** A hardlink names a path from the archive's root: one that is a bundle path itself. */
function hardlinkTarget(rel: string, linkpath: string | undefined): string {
  try {
    return normalizeEntryPath(linkpath ?? '');
  } catch (err) {
    throw new KilnError(
      'unsafe_link',
      `bundle entry "${rel}" is a hardlink to "${(linkpath ?? '').slice(0, 200)}", outside the bundle: ${(err as Error).message}`,
    );
  }
}

/**
 * One bundle file on disk: its dir made, then created with O_CREAT|O_EXCL (never through
 * an existing name or link), at most `size` bytes, the mode set explicitly (no umask).
 */
class FileSink extends Writable {
  private fh: FileHandle | undefined;
  private written = 0;

  constructor(
    private readonly dir: Promise<unknown>,
    private readonly file: string,
    private readonly mode: number,
    private readonly size: number,
  ) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _construct(done: (err?: Error | null) => void): void {
    this.dir
      .then(() => open(this.file, 'wx', this.mode))
      .then((fh) => {
        this.fh = fh;
        return fh.chmod(this.mode);
      })
      .then(() => done(), done);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.written += chunk.length;
    if (this.written > this.size) {
      done(new KilnError('invalid_bundle', `${this.file} is longer than its header says`));
      return;
    }
    this.fh!.write(chunk).then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    (fh ? fh.close() : Promise.resolve()).then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    (fh ? fh.close().catch(() => undefined) : Promise.resolve()).then(() => done(err));
  }
}
