import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VolumeStore } from './volume-store.js';

const OWNER = { uid: 99_999, gid: 99_999 };
let dir: string;

beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(tmpdir(), 'kiln-volumes-')), 'volumes');
});
afterEach(() => rm(path.dirname(dir), { recursive: true, force: true }));

describe('VolumeStore', () => {
  it('makes a volume whole: its record and a data dir of the volume uid, in a 0700 dir', async () => {
    const store = new VolumeStore(dir, OWNER);
    await store.init();
    expect(await store.create('cache')).toMatchObject({ name: 'cache', sizeBytes: 0 });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const data = await stat(path.join(dir, 'cache', 'data'));
    expect([data.uid, data.gid, data.mode & 0o777]).toEqual([99_999, 99_999, 0o755]);
    await writeFile(path.join(dir, 'cache', 'data', 'f'), 'hello');
    expect(await store.info('cache')).toMatchObject({ sizeBytes: 5 });
    await expect(store.create('cache')).rejects.toMatchObject({ code: 'volume_exists', status: 409 });
    await expect(store.create('../x')).rejects.toMatchObject({ code: 'invalid_volume_name', status: 400 });
    expect(await readdir(dir)).toEqual(['cache']);

    // A restart finds it; what a crash left half-made or half-removed is cleared.
    await mkdir(path.join(dir, '.tmp-abc', 'data'), { recursive: true });
    await mkdir(path.join(dir, '.trash-def'), { recursive: true });
    const again = new VolumeStore(dir, OWNER);
    await again.init();
    expect((await again.list()).map((v) => v.name)).toEqual(['cache']);
    expect(await readdir(dir)).toEqual(['cache']);
  });

  it('refuses to remove a volume a running instance holds, until it lets go', async () => {
    const store = new VolumeStore(dir, OWNER);
    await store.init();
    await store.create('db');
    const held = store.hold(['db'], { function: 'api', version: 3 });
    expect(held.sources).toEqual([{ name: 'db', dir: path.join(dir, 'db', 'data'), ...OWNER }]);
    await expect(store.remove('db')).rejects.toMatchObject({
      code: 'volume_in_use',
      status: 409,
      message: expect.stringContaining('api@3'),
    });
    held.release();
    held.release();
    expect(store.holdersOf('db')).toEqual([]);
    await store.remove('db');
    expect(await readdir(dir)).toEqual([]);
    expect(() => store.hold(['db'], { function: 'api', version: 4 })).toThrow(
      expect.objectContaining({ code: 'volume_not_found', status: 400 }),
    );
    await expect(store.info('db')).rejects.toMatchObject({ code: 'volume_not_found', status: 404 });
  });
});
