import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageEntry, makeMountPointLayer } from './mount-points.js';

const execFileP = promisify(execFile);
let root: string;
let lower: string;
let upper: string;
let out: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kiln-mount-points-'));
  [lower, upper, out] = ['lower', 'upper', 'out'].map((d) => path.join(root, d)) as [string, string, string];
  // The image: /var/lib (dir), /var/run → /run (symlink), /srv a file in the lower layer that
  // the upper layer replaces with a dir, /opt/gone a file the upper layer's whiteout removes.
  await mkdir(path.join(lower, 'var/lib'), { recursive: true });
  await symlink('/run', path.join(lower, 'var/run'));
  await writeFile(path.join(lower, 'etcfile'), 'x');
  await writeFile(path.join(lower, 'srv'), 'x');
  await mkdir(path.join(upper, 'srv'), { recursive: true });
  await mkdir(path.join(lower, 'opt'), { recursive: true });
  await writeFile(path.join(lower, 'opt', 'gone'), 'x');
  await mkdir(path.join(upper, 'opt'), { recursive: true });
  // An overlay whiteout: the file is gone from the merged view.
  await execFileP('mknod', [path.join(upper, 'opt', 'gone'), 'c', '0', '0']);
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('makeMountPointLayer', () => {
  it("makes every path's dirs, over dirs of the image or where it has nothing", async () => {
    await makeMountPointLayer([lower, upper], ['/data', '/var/lib/app', '/srv/x', '/opt/gone'], out);
    expect((await readdir(out)).sort()).toEqual(['data', 'opt', 'srv', 'var']);
    expect((await stat(path.join(out, 'var/lib/app'))).isDirectory()).toBe(true);
    expect((await stat(path.join(out, 'data'))).mode & 0o777).toBe(0o755);
  });

  it('refuses a path through a symlink or a file of the image', async () => {
    await expect(makeMountPointLayer([lower, upper], ['/var/run/app'], out)).rejects.toMatchObject({
      code: 'invalid_volume_path',
      message: expect.stringContaining('/var/run is a symlink'),
    });
    await expect(makeMountPointLayer([lower, upper], ['/etcfile/x'], out)).rejects.toMatchObject({
      message: expect.stringContaining('/etcfile is a file'),
    });
  });
});

describe('imageEntry', () => {
  it("says what the merged view has: the topmost layer's entry, a whiteout as absent", async () => {
    expect(await imageEntry([lower, upper], 'var/lib')).toBe('dir');
    expect(await imageEntry([lower, upper], 'srv')).toBe('dir');
    expect(await imageEntry([lower, upper], 'srv/x')).toBe('absent');
    expect(await imageEntry([lower, upper], 'opt/gone')).toBe('absent');
    expect(await imageEntry([lower, upper], 'var/run')).toBe('symlink');
    expect(await imageEntry([lower, upper], 'nothing/here')).toBe('absent');
  });

  it("never follows an image's symlink on the host", async () => {
    // /var/run -> /run: on the host, /run/lock (or whatever it names) may well be a dir.
    await mkdir(path.join(root, 'host/secret-dir'), { recursive: true });
    await symlink(path.join(root, 'host'), path.join(upper, 'escape'));
    expect(await imageEntry([lower, upper], 'escape/secret-dir')).toBe('symlink');
    // A lower layer's symlink under a dir of a higher layer is hidden, and not followed.
    await mkdir(path.join(upper, 'mixed'));
    await symlink(path.join(root, 'host'), path.join(lower, 'mixed'));
    expect(await imageEntry([lower, upper], 'mixed/secret-dir')).toBe('absent');
  });
});
