import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseUidRange, UidLeases, uidRangeFinding } from './uid-leases.js';

let dir: string;
beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(tmpdir(), 'kiln-uids-')), 'uids');
});
afterEach(() => rm(path.dirname(dir), { recursive: true, force: true }));

describe('UidLeases', () => {
  it('hands out each uid once while it is held, round-robin, and again once released', async () => {
    const leases = new UidLeases(dir, 'gw-a', { first: 200_000, last: 200_002 });
    const taken = [await leases.acquire(), await leases.acquire(), await leases.acquire()];
    expect(taken).toEqual([200_000, 200_001, 200_002]);
    await expect(leases.acquire()).rejects.toMatchObject({ code: 'no_free_uid', status: 503 });
    await leases.release(200_001);
    expect(await leases.acquire()).toBe(200_001);
  });

  it('never gives two gateways on one host the same uid', async () => {
    const range = { first: 300_000, last: 300_009 };
    const a = new UidLeases(dir, 'gw-a', range);
    const b = new UidLeases(dir, 'gw-b', range);
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).acquire()));
    expect(new Set(all).size).toBe(10);
  });

  it("releases only its own leases after a crash (another gateway's stay)", async () => {
    const a = new UidLeases(dir, 'gw-a', { first: 400_000, last: 400_009 });
    const b = new UidLeases(dir, 'gw-b', { first: 400_000, last: 400_009 });
    await a.acquire();
    await a.acquire();
    const kept = await b.acquire();
    expect(await new UidLeases(dir, 'gw-a').releaseAll()).toBe(2);
    expect(await readdir(dir)).toEqual([String(kept)]);
  });
});

describe('parseUidRange', () => {
  it('reads FIRST-LAST, defaulting to 100000-165535', () => {
    expect(parseUidRange(undefined)).toEqual({ first: 100_000, last: 165_535 });
    expect(parseUidRange('200000-200099')).toEqual({ first: 200_000, last: 200_099 });
  });

  it('refuses system uids, nobody, reversed and malformed ranges', () => {
    for (const bad of ['0-100', '500-2000', '60000-70000', '5000-4000', 'lots', '1000-4294967295'])
      expect(() => parseUidRange(bad), bad).toThrow(expect.objectContaining({ code: 'invalid_config' }));
  });
});

describe('uidRangeFinding', () => {
  it('warns when a user or a subordinate uid range lies in the range', async () => {
    const etc = path.dirname(dir);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      path.join(etc, 'passwd'),
      'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
    );
    await writeFile(path.join(etc, 'subuid'), '');
    expect(await uidRangeFinding(undefined, etc)).toMatchObject({ name: 'uid-range', ok: true });
    await writeFile(path.join(etc, 'subuid'), 'alice:100000:65536\n');
    const clash = await uidRangeFinding(undefined, etc);
    expect(clash).toMatchObject({ ok: false, warnOnly: true });
    expect(clash.detail).toMatch(/subordinate uids of alice \(100000\+65536\)/);
    expect(await uidRangeFinding('200000-265535', etc)).toMatchObject({ ok: true });
    expect(await uidRangeFinding('1-2', etc)).toMatchObject({ ok: false });
  });
});
