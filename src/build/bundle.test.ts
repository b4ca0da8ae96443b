import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawTarGz } from '../../test/tar-builder.js';
import { inspectBundle, unpackBundle } from './bundle.js';

const file = (p: string, body = 'x') => ({ path: p, body });

describe('inspectBundle refuses', () => {
  const cases: [string, Buffer, string][] = [
    ['a body that is not gzip', Buffer.from('plain text'), 'invalid_bundle'],
    ['gzip that is not a tar', rawTarGz([]).subarray(0, 10), 'invalid_bundle'],
    ['an absolute path', rawTarGz([file('/etc/passwd')]), 'unsafe_path'],
    ['a path climbing with ..', rawTarGz([file('a/../../escape.js')]), 'unsafe_path'],
    [
      'a symlink to an absolute path',
      rawTarGz([{ path: 'link', type: 'SymbolicLink', linkpath: '/etc/shadow' }]),
      'unsafe_link',
    ],
    [
      'a symlink climbing out',
      rawTarGz([{ path: 'a/link', type: 'SymbolicLink', linkpath: '../../x' }]),
      'unsafe_link',
    ],
    [
      'a hardlink out of the bundle',
      rawTarGz([{ path: 'h', type: 'Link', linkpath: '../outside' }]),
      'unsafe_link',
    ],
    ['a character device', rawTarGz([{ path: 'dev/null', type: 'CharacterDevice' }]), 'unsafe_entry'],
    ['a block device', rawTarGz([{ path: 'sda', type: 'BlockDevice' }]), 'unsafe_entry'],
    ['a fifo', rawTarGz([{ path: 'pipe', type: 'FIFO' }]), 'unsafe_entry'],
  ];
  for (const [what, body, code] of cases) {
    it(what, async () => {
      await expect(inspectBundle(body)).rejects.toMatchObject({ code, status: 400 });
    });
  }

  it('more than the size limit unpacked, with 413', async () => {
    const big = rawTarGz([file('big.bin', 'y'.repeat(4096))]);
    await expect(inspectBundle(big, 1024)).rejects.toMatchObject({ code: 'bundle_too_large', status: 413 });
  });

  it('a gzip bomb before inflating it whole', async () => {
    const bomb = rawTarGz([file('zeros', '\0'.repeat(8 * 1024 * 1024))]);
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expect(inspectBundle(bomb, 1024)).rejects.toMatchObject({ code: 'bundle_too_large' });
  });
});

describe('inspectBundle accepts and unpackBundle writes', () => {
  it('files, dirs and links that stay inside', async () => {
    const gz = rawTarGz([
      { path: 'lib', type: 'Directory' },
      file('lib/a.js', 'export const a = 1'),
      { path: 'lib/b.js', type: 'SymbolicLink', linkpath: 'a.js' },
      { path: 'c.js', type: 'Link', linkpath: 'lib/a.js' },
      file('./index.mjs', 'export default {}'),
    ]);
    const raw = await inspectBundle(gz);
    const dir = await mkdtemp(path.join(tmpdir(), 'kiln-bundle-'));
    try {
      const dest = await unpackBundle(raw, path.join(dir, 'src'));
      expect((await readdir(dest)).sort()).toEqual(['c.js', 'index.mjs', 'lib']);
      expect(await readFile(path.join(dest, 'lib/b.js'), 'utf8')).toBe('export const a = 1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lifts a single top-level dir (tar czf b.tgz myfn/)', async () => {
    const raw = await inspectBundle(
      rawTarGz([{ path: 'myfn', type: 'Directory' }, file('myfn/index.mjs', '1')]),
    );
    const dir = await mkdtemp(path.join(tmpdir(), 'kiln-bundle-'));
    try {
      const dest = await unpackBundle(raw, path.join(dir, 'src'));
      expect(await readdir(dest)).toEqual(['index.mjs']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
