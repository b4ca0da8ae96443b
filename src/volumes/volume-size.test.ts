import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { volumeBytes } from './volume-size.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-volume-size-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('volumeBytes', () => {
  it('counts regular files once each, through nested dirs, and follows no link', async () => {
    const data = path.join(dir, 'data');
    await mkdir(path.join(data, 'a/b'), { recursive: true });
    await writeFile(path.join(data, 'one'), 'x'.repeat(10));
    await writeFile(path.join(data, 'a/b/two'), 'y'.repeat(5));
    await link(path.join(data, 'one'), path.join(data, 'a/hardlink'));
    const outside = path.join(dir, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'big'), 'z'.repeat(100_000));
    await symlink(outside, path.join(data, 'to-dir'));
    await symlink(path.join(outside, 'big'), path.join(data, 'to-file'));
    expect(await volumeBytes(data)).toBe(15);
  });

  it('is 0 for an empty or missing dir', async () => {
    expect(await volumeBytes(dir)).toBe(0);
    expect(await volumeBytes(path.join(dir, 'missing'))).toBe(0);
  });
});
