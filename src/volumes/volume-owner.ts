import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../errors.js';
import type { HostFinding } from '../runtime/host-finding.js';
import { parseUidRange, type UidRange } from '../runtime/uid-leases.js';

/**
 * The host uid and gid that own every volume's files on disk (`KILN_VOLUME_UID`, default
 * 99999). No process runs as it: instances run as uids of their own (`KILN_UID_RANGE`) and
 * see a volume through an idmapped mount that shows its files as theirs and writes new ones
 * as this uid (src/runtime/oci-spec.ts, `bindMount`). So instance N+1, another uid, reads and
 * writes what instance N wrote, two instances at once each see the files as their own, and on
 * the host the files belong to no uid that runs anything. Chosen over the alternatives:
 * chown on mount rewrites every file at each start and flips owners under an instance still
 * running; a group shared by the volume's instances needs every file group-writable, which a
 * function's own `chmod` or umask undoes.
 */
export const DEFAULT_VOLUME_UID = 99_999;

export function parseVolumeUid(raw: string | undefined, leases: UidRange): number {
  if (raw === undefined || raw === '') return checked(DEFAULT_VOLUME_UID, String(DEFAULT_VOLUME_UID), leases);
  const uid = /^\d{1,10}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  return checked(uid, raw, leases);
}

function checked(uid: number, raw: string, leases: UidRange): number {
  // 0-999 are system users; 65534 is nobody (the overflow id an idmapped mount shows for
  // ids outside its mapping); a uid instances lease would let one instance own every volume.
  if (
    !Number.isInteger(uid) ||
    uid < 1000 ||
    uid >= 0xffffffff ||
    uid === 65534 ||
    (uid >= leases.first && uid <= leases.last)
  ) {
    throw new KilnError(
      'invalid_config',
      `KILN_VOLUME_UID is "${raw}": use a uid from 1000 up, not 65534 and outside KILN_UID_RANGE (${leases.first}-${leases.last})`,
      500,
    );
  }
  return uid;
}

/**
 * `kiln doctor`: is the volume uid one the gateway accepts, and does no account or rootless
 * subordinate range on the host use it? Such a user would own every volume's files (it could
 * not reach them through the 0700 `volumes/` dir, hence a warning only).
 */
export async function volumeUidFinding(
  raw = process.env.KILN_VOLUME_UID,
  rangeRaw = process.env.KILN_UID_RANGE,
  etc = '/etc',
): Promise<HostFinding> {
  let uid: number;
  try {
    uid = parseVolumeUid(raw, parseUidRange(rangeRaw));
  } catch (err) {
    return { name: 'volume-uid', ok: false, detail: (err as Error).message };
  }
  const users = (await readFile(path.join(etc, 'passwd'), 'utf8').catch(() => ''))
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => f.length > 2 && Number(f[2]) === uid)
    .map((f) => `user ${f[0]}`);
  const subuids = (await readFile(path.join(etc, 'subuid'), 'utf8').catch(() => ''))
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => f.length === 3 && uid >= Number(f[1]) && uid < Number(f[1]) + Number(f[2]))
    .map((f) => `subordinate uids of ${f[0]}`);
  const clash = [...users, ...subuids];
  return {
    name: 'volume-uid',
    ok: clash.length === 0,
    warnOnly: true,
    detail: clash.length
      ? `volumes' files belong to uid ${uid}, which ${clash.join(', ')} also use: set KILN_VOLUME_UID to a free uid (existing volumes keep theirs)`
      : `volumes' files belong to uid ${uid} (KILN_VOLUME_UID), which no user or subuid range uses`,
  };
}
