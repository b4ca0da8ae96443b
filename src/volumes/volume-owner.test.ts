import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_UID_RANGE } from '../runtime/uid-leases.js';
import { DEFAULT_VOLUME_UID, parseVolumeUid, volumeUidFinding } from './volume-owner.js';

let etc: string;
beforeEach(async () => {
  etc = await mkdtemp(path.join(tmpdir(), 'kiln-etc-'));
});
afterEach(() => rm(etc, { recursive: true, force: true }));

describe('the volume uid', () => {
  it('is 99999 unless KILN_VOLUME_UID says, never a system uid, nobody or a leased uid', () => {
    expect(parseVolumeUid(undefined, DEFAULT_UID_RANGE)).toBe(DEFAULT_VOLUME_UID);
    expect(parseVolumeUid('70000', DEFAULT_UID_RANGE)).toBe(70_000);
    for (const bad of ['0', '999', '65534', '100000', '165535', '-1', 'x', '4294967295'])
      expect(() => parseVolumeUid(bad, DEFAULT_UID_RANGE), bad).toThrow(
        expect.objectContaining({ code: 'invalid_config' }),
      );
    expect(parseVolumeUid('100000', { first: 200_000, last: 265_535 })).toBe(100_000);
  });

  it('kiln doctor warns when a user or a subuid range has it', async () => {
    await writeFile(path.join(etc, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    await writeFile(path.join(etc, 'subuid'), '');
    expect(await volumeUidFinding(undefined, undefined, etc)).toMatchObject({ name: 'volume-uid', ok: true });
    await writeFile(path.join(etc, 'passwd'), 'root:x:0:0::/root:/bin/sh\nbob:x:99999:99999::/:/bin/sh\n');
    await writeFile(path.join(etc, 'subuid'), 'alice:90000:65536\n');
    const clash = await volumeUidFinding(undefined, undefined, etc);
    expect(clash).toMatchObject({ ok: false, warnOnly: true });
    expect(clash.detail).toMatch(/user bob, subordinate uids of alice/);
    // A leased uid stops the gateway: a failure, not a warning.
    const leased = await volumeUidFinding('120000', undefined, etc);
    expect(leased.ok).toBe(false);
    expect(leased).not.toHaveProperty('warnOnly');
  });
});
