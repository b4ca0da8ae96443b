import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../disk.js';
import { KilnError } from '../errors.js';
import { parseFunctionRef } from './function-ref.js';
import type { FunctionSpec } from './spec.js';

/** One immutable deploy of a function (or config update: same image, another spec). */
export interface FunctionVersion {
  version: number;
  /** Manifest digest of the version's OCI image. */
  image: string;
  /** Digest of the function layer (the only layer a deploy adds). */
  layer: string;
  /** What the shim's `POST /init` gets. */
  handler: string;
  /** The user's entry file, e.g. `src/app.ts`. */
  source: string;
  /**
   * Digest of the bundle's files as received (`sourceDigest`, src/build/source-digest.ts):
   * a redeploy of the same files with the same spec makes no version. Absent on versions
   * recorded before it was kept.
   */
  sourceDigest?: string;
  spec: FunctionSpec;
  createdAt: string;
}

export interface FunctionRecord {
  name: string;
  runtime: FunctionSpec['runtime'];
  activeVersion: number;
  versions: FunctionVersion[];
  /** Alias → version number (`prod → 7`); absent on records written before aliases. */
  aliases?: Record<string, number>;
  createdAt: string;
  updatedAt: string;
}

/**
 * Functions and their versions, one JSON file per function in `functions/`, each
 * rewritten whole (`writeFileAtomic`: temp file, fsync, rename, fsync the dir) so a crash
 * leaves the old record or the new one.
 * Versions are never changed once written; "active" is the one that serves `/fn/NAME`,
 * aliases name others (`/fn/NAME@prod`), and any version serves pinned (`/fn/NAME@7`).
 */
export class FunctionStore {
  private readonly records = new Map<string, FunctionRecord>();
  /** Changes to one record are applied one at a time, each to the record the last one wrote. */
  private readonly writes = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {}

  async load(): Promise<void> {
    this.records.clear();
    for (const file of await readdir(this.dir)) {
      // Only `<name>.json`: a crash can leave `.<name>.json.<random>.tmp` beside it.
      if (!file.endsWith('.json') || file.startsWith('.')) continue;
      const record = JSON.parse(await readFile(path.join(this.dir, file), 'utf8')) as FunctionRecord;
      this.records.set(record.name, record);
    }
  }

  list(): FunctionRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  has(name: string): boolean {
    return this.records.has(name);
  }

  get(name: string): FunctionRecord {
    const record = this.records.get(name);
    if (!record)
      throw new KilnError('function_not_found', `no function named "${name}" (kiln ls lists them)`, 404);
    return record;
  }

  active(name: string): FunctionVersion {
    const record = this.get(name);
    return this.version(record, record.activeVersion);
  }

  /** The version an invoke names: `NAME` (active), `NAME@7`, `NAME@alias` (function-ref.ts). */
  resolve(ref: string): FunctionVersion {
    const parsed = parseFunctionRef(ref);
    const record = this.get(parsed.name);
    if (parsed.kind === 'active') return this.version(record, record.activeVersion);
    if (parsed.kind === 'version') return this.version(record, parsed.version);
    const target = record.aliases?.[parsed.alias];
    if (target === undefined) {
      throw new KilnError(
        'alias_not_found',
        `function "${record.name}" has no alias "${parsed.alias}" (kiln alias ls ${record.name})`,
        404,
      );
    }
    return this.version(record, target);
  }

  /** The active version of every function. */
  allActive(): FunctionVersion[] {
    return this.list().map((r) => this.version(r, r.activeVersion));
  }

  /** The versions of `name` its aliases point at (none when it has no aliases or does not exist). */
  aliasedVersions(name: string): number[] {
    return [...new Set(Object.values(this.records.get(name)?.aliases ?? {}))];
  }

  version(record: FunctionRecord, version: number): FunctionVersion {
    const found = record.versions.find((v) => v.version === version);
    if (!found)
      throw new KilnError('version_not_found', `function "${record.name}" has no version ${version}`, 404);
    return found;
  }

  nextVersion(name: string): number {
    const record = this.records.get(name);
    return record ? Math.max(...record.versions.map((v) => v.version)) + 1 : 1;
  }

  /** The version a rollback without a number goes to: the highest below the active one. */
  previousVersion(name: string): FunctionVersion {
    const record = this.get(name);
    const below = record.versions.filter((v) => v.version < record.activeVersion);
    if (below.length === 0) {
      throw new KilnError(
        'no_previous_version',
        `function "${name}" has no version before ${record.activeVersion} to roll back to`,
        409,
      );
    }
    return below.reduce((a, b) => (b.version > a.version ? b : a));
  }

  /** Record a new version and make it the active one, in one write. */
  addActiveVersion(version: Omit<FunctionVersion, 'createdAt'>): Promise<FunctionRecord> {
    return this.change(version.spec.name, (old) => {
      const now = new Date().toISOString();
      if (old?.versions.some((v) => v.version === version.version))
        throw new KilnError(
          'version_exists',
          `function "${old.name}" already has version ${version.version}`,
          409,
        );
      return {
        name: version.spec.name,
        runtime: version.spec.runtime,
        activeVersion: version.version,
        versions: [...(old?.versions ?? []), { ...version, createdAt: now }],
        aliases: { ...old?.aliases },
        createdAt: old?.createdAt ?? now,
        updatedAt: now,
      };
    });
  }

  /** Make an existing version the active one (a rollback), in one write. */
  activate(name: string, version: number): Promise<FunctionRecord> {
    return this.change(name, (old) => {
      const record = this.existing(name, old);
      this.version(record, version);
      return { ...record, activeVersion: version, updatedAt: new Date().toISOString() };
    });
  }

  setAlias(name: string, alias: string, version: number): Promise<FunctionRecord> {
    return this.change(name, (old) => {
      const record = this.existing(name, old);
      this.version(record, version);
      return {
        ...record,
        aliases: { ...record.aliases, [alias]: version },
        updatedAt: new Date().toISOString(),
      };
    });
  }

  removeAlias(name: string, alias: string): Promise<FunctionRecord> {
    return this.change(name, (old) => {
      const record = this.existing(name, old);
      if (record.aliases?.[alias] === undefined)
        throw new KilnError('alias_not_found', `function "${name}" has no alias "${alias}"`, 404);
      const aliases = { ...record.aliases };
      delete aliases[alias];
      return { ...record, aliases, updatedAt: new Date().toISOString() };
    });
  }

  remove(name: string): Promise<void> {
    return this.serialized(name, async () => {
      this.get(name);
      await rm(this.file(name), { force: true });
      this.records.delete(name);
    });
  }

  private existing(name: string, record: FunctionRecord | undefined): FunctionRecord {
    return record ?? this.get(name);
  }

  /** Compute the next record from the current one and write it whole; one change per name at a time. */
  private change(
    name: string,
    next: (current: FunctionRecord | undefined) => FunctionRecord,
  ): Promise<FunctionRecord> {
    return this.serialized(name, async () => {
      const record = next(this.records.get(name));
      await writeFileAtomic(this.file(record.name), `${JSON.stringify(record, null, 2)}\n`);
      this.records.set(record.name, record);
      return record;
    });
  }

  private async serialized<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.writes.get(name) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    this.writes.set(name, run);
    try {
      return await run;
    } finally {
      if (this.writes.get(name) === run) this.writes.delete(name);
    }
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }
}
