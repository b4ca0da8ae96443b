import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gzipBomb, rawTar, rawTarGz } from '../../test/tar-builder.js';
import { type BundleLimits, DEFAULT_BUNDLE_LIMITS, receiveBundle } from './bundle.js';

const file = (p: string, body = 'x') => ({ path: p, body });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-bundle-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function receive(body: Buffer | Readable, limits: Partial<BundleLimits> = {}) {
  const stream = body instanceof Readable ? body : Readable.from([body]);
  return receiveBundle(stream, path.join(dir, 'src'), { ...DEFAULT_BUNDLE_LIMITS, ...limits });
}

describe('receiveBundle refuses with a 4xx and a code', () => {
  const cases: [string, () => Buffer, string][] = [
    ['a body that is not gzip', () => Buffer.from('plain text'), 'invalid_bundle'],
    ['gzip that is cut short', () => rawTarGz([file('a.js')]).subarray(0, 20), 'invalid_bundle'],
    ['gzip of something that is not a tar', () => gzipSync(Buffer.alloc(600, 7)), 'invalid_bundle'],
    [
      'a tar cut short inside a file',
      () => gzipSync(rawTar([file('a.js', 'y'.repeat(2000))]).subarray(0, 1024)),
      'invalid_bundle',
    ],
    ['a gzip inside the gzip', () => gzipSync(rawTarGz([file('a.js')])), 'invalid_bundle'],
    ['an empty tar', () => rawTarGz([]), 'invalid_bundle'],
    ['an absolute path', () => rawTarGz([file('/etc/passwd')]), 'unsafe_path'],
    ['a path climbing with ..', () => rawTarGz([file('a/../../escape.js')]), 'unsafe_path'],
    ['a path with a backslash', () => rawTarGz([file('..\\..\\x.js')]), 'unsafe_path'],
    ['a path with a drive letter', () => rawTarGz([file('C:/x.js')]), 'unsafe_path'],
    ['a path with a newline', () => rawTarGz([file('a\nb.js')]), 'unsafe_path'],
    [
      'a file below a symlink',
      () => rawTarGz([{ path: 'd', type: 'SymbolicLink', linkpath: 'e' }, file('d/x.js')]),
      'unsafe_path',
    ],
    ['the same file twice', () => rawTarGz([file('a.js'), file('a.js')]), 'duplicate_entry'],
    [
      'a symlink to an absolute path',
      () => rawTarGz([{ path: 'link', type: 'SymbolicLink', linkpath: '/etc/shadow' }]),
      'unsafe_link',
    ],
    [
      'a symlink climbing out',
      () => rawTarGz([{ path: 'a/link', type: 'SymbolicLink', linkpath: '../../x' }]),
      'unsafe_link',
    ],
    [
      'a symlink with a backslash',
      () => rawTarGz([{ path: 'l', type: 'SymbolicLink', linkpath: '..\\..\\etc' }]),
      'unsafe_link',
    ],
    [
      'a symlink to a drive letter',
      () => rawTarGz([{ path: 'l', type: 'SymbolicLink', linkpath: 'C:/Windows' }]),
      'unsafe_link',
    ],
    [
      'a symlink chain d → ., u → d/..',
      () =>
        rawTarGz([
          { path: 'd', type: 'SymbolicLink', linkpath: '.' },
          { path: 'u', type: 'SymbolicLink', linkpath: 'd/..' },
        ]),
      'unsafe_link',
    ],
    [
      'a hardlink out of the bundle',
      () => rawTarGz([{ path: 'h', type: 'Link', linkpath: '../outside' }]),
      'unsafe_link',
    ],
    [
      'a hardlink to a file not in the bundle',
      () => rawTarGz([{ path: 'h', type: 'Link', linkpath: 'etc/passwd' }]),
      'unsafe_link',
    ],
    [
      'a hardlink with a backslash',
      () => rawTarGz([file('f'), { path: 'h', type: 'Link', linkpath: 'a\\f' }]),
      'unsafe_link',
    ],
    ['a character device', () => rawTarGz([{ path: 'dev/null', type: 'CharacterDevice' }]), 'unsafe_entry'],
    ['a block device', () => rawTarGz([{ path: 'sda', type: 'BlockDevice' }]), 'unsafe_entry'],
    ['a fifo', () => rawTarGz([{ path: 'pipe', type: 'FIFO' }]), 'unsafe_entry'],
  ];
  for (const [what, body, code] of cases) {
    it(what, async () => {
      await expect(receive(body())).rejects.toMatchObject({ code, status: 400 });
    });
  }

  it('more bytes than the limit, at the header that crosses it, with 413', async () => {
    const big = rawTarGz([file('a.bin', 'y'.repeat(600)), file('b.bin', 'y'.repeat(600))]);
    await expect(receive(big, { maxBytes: 1000 })).rejects.toMatchObject({
      code: 'bundle_too_large',
      status: 413,
    });
  });

  it('more files than the limit, with 413', async () => {
    const many = rawTarGz(Array.from({ length: 30 }, (_, i) => file(`f${i}`, '')));
    await expect(receive(many, { maxFiles: 20 })).rejects.toMatchObject({
      code: 'bundle_too_many_files',
      status: 413,
    });
  });

  it('a body larger than its cap, with 413', async () => {
    await expect(
      receive(rawTarGz([file('a', 'z'.repeat(5000))]), { maxBodyBytes: 20 }),
    ).rejects.toMatchObject({
      code: 'bundle_too_large',
      status: 413,
    });
  });

  it('a 10 GiB gzip bomb declaring one huge file, without inflating it', async () => {
    await expect(
      receive(gzipBomb({ declaredSize: 10 * 1024 ** 3, inflatedMiB: 1024 })),
    ).rejects.toMatchObject({
      code: 'bundle_too_large',
      status: 413,
    });
  });

  it('a gzip bomb of zeros after the end of the tar, at the inflated cap', async () => {
    await expect(
      receive(gzipBomb({ declaredSize: 0, inflatedMiB: 1024 }), { maxBytes: 1024 * 1024, maxFiles: 10 }),
    ).rejects.toMatchObject({
      code: 'bundle_too_large',
      status: 413,
    });
  });

  it('leaves no file being written behind when it refuses midway', async () => {
    const entries = Array.from({ length: 200 }, (_, i) => file(`d${i % 7}/f${i}`, 'q'.repeat(i * 10)));
    entries.push({ path: 'dev', type: 'CharacterDevice' } as never);
    await expect(receive(rawTarGz(entries))).rejects.toMatchObject({ code: 'unsafe_entry' });
    await rm(path.join(dir, 'src'), { recursive: true, force: true });
    // A write still in flight would make its dir again after the removal.
    await new Promise((r) => setTimeout(r, 50));
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('receiveBundle writes', () => {
  it('files, dirs and links that stay inside, with modes made safe', async () => {
    const gz = rawTarGz([
      { path: 'lib', type: 'Directory' },
      file('lib/a.js', 'export const a = 1'),
      { path: 'lib/b.js', type: 'SymbolicLink', linkpath: 'a.js' },
      { path: 'c.js', type: 'Link', linkpath: 'lib/a.js' },
      { path: 'up', type: 'SymbolicLink', linkpath: 'lib/../lib' },
      { path: './run.sh', body: '#!/bin/sh', mode: 0o4777 },
      { path: 'secret', body: 'x', mode: 0o600 },
      file('./index.mjs', 'export default {}'),
    ]);
    const got = await receive(gz);
    const src = path.join(dir, 'src');
    expect(got.entries).toBe(8);
    expect((await readdir(src)).sort()).toEqual(['c.js', 'index.mjs', 'lib', 'run.sh', 'secret', 'up']);
    expect(await readFile(path.join(src, 'lib/b.js'), 'utf8')).toBe('export const a = 1');
    expect(await readlink(path.join(src, 'up'))).toBe('lib/../lib');
    expect((await stat(path.join(src, 'c.js'))).ino).toBe((await stat(path.join(src, 'lib/a.js'))).ino);
    expect((await stat(path.join(src, 'run.sh'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(src, 'secret'))).mode & 0o7777).toBe(0o644);
    expect((await lstat(path.join(src, 'lib'))).mode & 0o7777).toBe(0o755);
  });

  it('keeps a single top-level dir as it is (tar czf b.tgz myfn/)', async () => {
    await receive(rawTarGz([{ path: 'myfn', type: 'Directory' }, file('myfn/index.mjs', '1')]));
    expect(await readdir(path.join(dir, 'src'))).toEqual(['myfn']);
  });

  it('streams: a body that arrives in small pieces over time', async () => {
    const gz = rawTarGz(Array.from({ length: 50 }, (_, i) => file(`f${i}.txt`, `${i}`.repeat(300))));
    async function* trickle() {
      for (let i = 0; i < gz.length; i += 97) {
        yield gz.subarray(i, i + 97);
        if (i % 970 === 0) await new Promise((r) => setImmediate(r));
      }
    }
    const got = await receive(Readable.from(trickle()));
    expect(got.entries).toBe(50);
    expect(await readFile(path.join(dir, 'src/f7.txt'), 'utf8')).toBe('7'.repeat(300));
  });
});
