import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { syncPath } from '../disk.js';
import { KilnError } from '../errors.js';
import { VOLUME_NAME, validateVolumeName } from '../functions/volume-mounts.js';
import { volumeBytes } from './volume-size.js';

/** A volume as it is kept: `volumes/<name>/volume.json`. */
export interface VolumeRecord {
  name: string;
  createdAt: string;
  /** The uid and gid that own its files on disk (src/volumes/volume-owner.ts). */
  uid: number;
  gid: number;
}

/** What the API says about a volume. */
export interface VolumeInfo {
  name: string;
  createdAt: string;
  /** Bytes of its files (apparent sizes, each hard link once). */
  sizeBytes: number;
}

/** What an instance needs to mount a volume: its files on the host and their owner. */
export interface VolumeSource {
  name: string;
  dir: string;
  uid: number;
  gid: number;
}

/** Who holds a volume mounted: a running instance of `function` version `version`. */
export interface VolumeHolder {
  function: string;
  version: number;
}

const RECORD = 'volume.json';
const DATA = 'data';

/**
 * Named volumes (issue 12): data that outlives instances and versions. Each is a dir
 * `volumes/<name>/` holding `volume.json` and `data/` (the files, owned by the volume uid);
 * `volumes/` is 0700, so no host user but root reaches them. A volume is whole or absent:
 * it is made complete in a temp dir and renamed into place (a crash leaves a `.tmp-*` that
 * `init` removes), and removed by a rename to `.trash-*` before its files are deleted.
 * Instances that mount one hold it (`hold`) until their container is gone, and `remove`
 * refuses while any does, so no running instance has its files deleted under it.
 */
export class VolumeStore {
  private readonly records = new Map<string, VolumeRecord>();
  private readonly holders = new Map<string, VolumeHolder[]>();

  constructor(
    readonly dir: string,
    /** The owner new volumes get (`KILN_VOLUME_UID`). */
    private readonly owner: { uid: number; gid: number },
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    this.records.clear();
    for (const entry of await readdir(this.dir)) {
      const at = path.join(this.dir, entry);
      // What a crash left between making (or removing) a volume and its rename.
      if (entry.startsWith('.tmp-') || entry.startsWith('.trash-')) {
        await rm(at, { recursive: true, force: true });
        continue;
      }
      if (!VOLUME_NAME.test(entry)) continue;
      const text = await readFile(path.join(at, RECORD), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      const record = JSON.parse(text) as VolumeRecord;
      this.records.set(record.name, record);
    }
  }

  async create(raw: unknown): Promise<VolumeInfo> {
    const name = validateVolumeName(raw);
    if (this.records.has(name)) throw exists(name);
    const tmp = path.join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`);
    const record: VolumeRecord = { name, createdAt: new Date().toISOString(), ...this.owner };
    try {
      await mkdir(tmp, { mode: 0o700 });
      const data = path.join(tmp, DATA);
      await mkdir(data, { mode: 0o755 });
      await chown(data, record.uid, record.gid);
      const fh = await open(path.join(tmp, RECORD), 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(record, null, 2)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await syncPath(tmp);
      // rename(2) onto an existing non-empty dir fails (ENOTEMPTY/EEXIST): a racing create lost.
      await rename(tmp, this.dirOf(name)).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOTEMPTY' || err.code === 'EEXIST' ? exists(name) : err;
      });
      await syncPath(this.dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    this.records.set(name, record);
    return { name, createdAt: record.createdAt, sizeBytes: 0 };
  }

  has(name: string): boolean {
    return this.records.has(name);
  }

  /** `volume_not_found` (400) naming function `fn` unless every volume of `names` exists. */
  require(names: readonly string[], fn: string): void {
    for (const name of names) if (!this.records.has(name)) throw notFound(name, fn);
  }

  async info(name: string): Promise<VolumeInfo> {
    const record = this.record(name);
    return {
      name,
      createdAt: record.createdAt,
      sizeBytes: await volumeBytes(path.join(this.dirOf(name), DATA)),
    };
  }

  async list(): Promise<VolumeInfo[]> {
    const names = [...this.records.keys()].sort();
    return Promise.all(names.map((n) => this.info(n)));
  }

  /** Running instances that have `name` mounted. */
  holdersOf(name: string): VolumeHolder[] {
    return [...(this.holders.get(name) ?? [])];
  }

  /**
   * Hold `names` for an instance of `holder` and say where their files are: the instance
   * mounts them, and calls `release` once its container is gone. Checked and counted in one
   * tick, so a `remove` cannot come between.
   */
  hold(names: readonly string[], holder: VolumeHolder): { sources: VolumeSource[]; release: () => void } {
    const sources = names.map((name) => {
      const record = this.records.get(name);
      if (!record) throw notFound(name, holder.function);
      return { name, dir: path.join(this.dirOf(name), DATA), uid: record.uid, gid: record.gid };
    });
    for (const name of names) this.holders.set(name, [...(this.holders.get(name) ?? []), holder]);
    let released = false;
    return {
      sources,
      release: () => {
        if (released) return;
        released = true;
        for (const name of names) {
          const list = this.holders.get(name) ?? [];
          list.splice(list.indexOf(holder), 1);
          if (list.length === 0) this.holders.delete(name);
        }
      },
    };
  }

  /**
   * Remove `name` and its files; 409 `volume_in_use` while an instance holds it (the caller
   * checks which functions' specs name it first: src/volumes/volume-users.ts).
   */
  async remove(name: string): Promise<void> {
    this.record(name);
    const held = this.holdersOf(name);
    if (held.length)
      throw inUse(
        name,
        held.map((h) => `${h.function}@${h.version} (a running instance)`),
      );
    // Gone for every later hold at once; the files follow.
    this.records.delete(name);
    const trash = path.join(this.dir, `.trash-${randomBytes(6).toString('hex')}`);
    await rename(this.dirOf(name), trash);
    await syncPath(this.dir);
    // rm does not follow symlinks a function left in its volume (it lstats each entry).
    await rm(trash, { recursive: true, force: true });
  }

  /** Bytes of every volume's files (`kiln system df`). */
  async diskUsage(): Promise<{ count: number; bytes: number }> {
    const all = await this.list();
    return { count: all.length, bytes: all.reduce((n, v) => n + v.sizeBytes, 0) };
  }

  private record(name: string): VolumeRecord {
    validateVolumeName(name);
    const record = this.records.get(name);
    if (!record) throw notFound(name);
    return record;
  }

  private dirOf(name: string): string {
    return path.join(this.dir, name);
  }
}

export function inUse(name: string, users: string[]): KilnError {
  return new KilnError(
    'volume_in_use',
    `volume "${name}" is used by ${users.join(', ')}: update them without it first (kiln update NAME --volumes …), or remove them`,
    409,
  );
}

function exists(name: string): KilnError {
  return new KilnError('volume_exists', `volume "${name}" exists (kiln volume ls)`, 409);
}

/** 404 for the volume's own routes; 400 when a function's spec names it (the deploy's input is wrong). */
export function notFound(name: string, fn?: string): KilnError {
  return new KilnError(
    'volume_not_found',
    `${fn ? `${fn} names volume "${name}", which does not exist` : `no volume named "${name}"`}: kiln volume create ${name}`,
    fn ? 400 : 404,
  );
}
