import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../errors.js';
import type { HostFinding } from './host-finding.js';

/** The host uids function containers run as, one per container (`KILN_UID_RANGE`, "first-last"). */
export interface UidRange {
  first: number;
  last: number;
}

/**
 * 100000-165535: the range the lead chose for Kiln (65536 uids). Per-uid kernel limits
 * (inotify instances and watches, RLIMIT_NPROC, message queue bytes) then bind one
 * container, not every function at once (issue 8: one function used up uid 65534's 128
 * inotify instances and another's `inotify_init1` failed). Note: `useradd` hands out
 * subordinate uids (`/etc/subuid`, rootless containers) from 100000 up too: on a host with
 * rootless users, set KILN_UID_RANGE to a range no one else uses.
 */
export const DEFAULT_UID_RANGE: UidRange = { first: 100_000, last: 165_535 };

export function parseUidRange(raw: string | undefined): UidRange {
  if (raw === undefined || raw === '') return DEFAULT_UID_RANGE;
  const match = /^(\d+)-(\d+)$/.exec(raw.trim());
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  // 0-999 are system users on every distribution; 65534 is nobody; uid_t is 32 bits, and
  // (uid_t)-1 means "no change" to chown and setresuid.
  if (!match || first < 1000 || last < first || last >= 0xffffffff || (first <= 65534 && last >= 65534)) {
    throw new KilnError(
      'invalid_config',
      `KILN_UID_RANGE is "${raw}": use FIRST-LAST with 1000 <= FIRST <= LAST < 4294967295, not containing 65534 (nobody)`,
      500,
    );
  }
  return { first, last };
}

/**
 * Hands out host uids, one per container, each held until the container is gone. A lease
 * is a file `<dir>/<uid>` made with O_EXCL holding its owner (a gateway's state root), so
 * two gateways on one host (two data dirs) never hand out the same uid; the dir lives on
 * /run, a tmpfs that a reboot empties along with every container. Leases are taken
 * round-robin, so a uid freed now is the last to be taken again.
 */
export class UidLeases {
  private next: number;

  constructor(
    readonly dir: string,
    readonly owner: string,
    readonly range: UidRange = DEFAULT_UID_RANGE,
  ) {
    this.next = range.first;
  }

  async acquire(): Promise<number> {
    const size = this.range.last - this.range.first + 1;
    for (let tried = 0; tried < size; tried++) {
      const uid = this.next;
      this.next = uid === this.range.last ? this.range.first : uid + 1;
      if (await this.take(uid)) return uid;
    }
    throw new KilnError(
      'no_free_uid',
      `every uid in ${this.range.first}-${this.range.last} is in use by a container: stop instances or widen KILN_UID_RANGE`,
      503,
    );
  }

  private async take(uid: number): Promise<boolean> {
    const file = path.join(this.dir, String(uid));
    try {
      await writeFile(file, this.owner, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'ENOENT') throw err;
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    return this.take(uid);
  }

  async release(uid: number): Promise<void> {
    await rm(path.join(this.dir, String(uid)), { force: true });
  }

  /** Drop every lease this owner holds (its containers are gone: after a crash, at start). */
  async releaseAll(): Promise<number> {
    let released = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const file = path.join(this.dir, name);
      if ((await readFile(file, 'utf8').catch(() => '')) !== this.owner) continue;
      await rm(file, { force: true });
      released++;
    }
    return released;
  }
}

/**
 * `kiln doctor`: does anyone else on this host use the uids Kiln hands out? A user account
 * (/etc/passwd) or a subordinate range for rootless containers (/etc/subuid) inside the range
 * would share per-uid limits with a function (a warning: Kiln still runs).
 */
export async function uidRangeFinding(raw = process.env.KILN_UID_RANGE, etc = '/etc'): Promise<HostFinding> {
  let range: UidRange;
  try {
    range = parseUidRange(raw);
  } catch (err) {
    return { name: 'uid-range', ok: false, detail: (err as Error).message };
  }
  const overlaps = (first: number, last: number) => first <= range.last && last >= range.first;
  const users = (await readFile(path.join(etc, 'passwd'), 'utf8').catch(() => ''))
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => f.length > 2 && overlaps(Number(f[2]), Number(f[2])))
    .map((f) => `user ${f[0]} (${f[2]})`);
  const subuids = (await readFile(path.join(etc, 'subuid'), 'utf8').catch(() => ''))
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => f.length === 3 && overlaps(Number(f[1]), Number(f[1]) + Number(f[2]) - 1))
    .map((f) => `subordinate uids of ${f[0]} (${f[1]}+${f[2]})`);
  const clash = [...users, ...subuids];
  return {
    name: 'uid-range',
    ok: clash.length === 0,
    warnOnly: true,
    detail: clash.length
      ? `containers run as uids ${range.first}-${range.last}, which ${clash.join(', ')} also use: set KILN_UID_RANGE to a free range`
      : `containers run as uids ${range.first}-${range.last}, one each (KILN_UID_RANGE); no user or subuid range uses them`,
  };
}
