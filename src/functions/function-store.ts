import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../disk.js';
import { KilnError } from '../errors.js';
import type { FunctionSpec } from './spec.js';

/** One immutable deploy of a function. */
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
  spec: FunctionSpec;
  createdAt: string;
}

export interface FunctionRecord {
  name: string;
  runtime: FunctionSpec['runtime'];
  activeVersion: number;
  versions: FunctionVersion[];
  createdAt: string;
  updatedAt: string;
}

/**
 * Functions and their versions, one JSON file per function in `functions/`, each
 * rewritten whole (`writeFileAtomic`: temp file, fsync, rename, fsync the dir) so a crash
 * leaves the old record or the new one.
 * Versions are never changed once written; "active" is the one that serves.
 */
export class FunctionStore {
  private readonly records = new Map<string, FunctionRecord>();

  constructor(readonly dir: string) {}

  async load(): Promise<void> {
    this.records.clear();
    for (const file of await readdir(this.dir)) {
      if (!file.endsWith('.json')) continue;
      const record = JSON.parse(await readFile(path.join(this.dir, file), 'utf8')) as FunctionRecord;
      this.records.set(record.name, record);
    }
  }

  list(): FunctionRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
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

  /** The active version of every function. */
  allActive(): FunctionVersion[] {
    return this.list().map((r) => this.version(r, r.activeVersion));
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

  /** Record a new version and make it the active one, in one write. */
  async addActiveVersion(version: Omit<FunctionVersion, 'createdAt'>): Promise<FunctionRecord> {
    const now = new Date().toISOString();
    const old = this.records.get(version.spec.name);
    const record: FunctionRecord = {
      name: version.spec.name,
      runtime: version.spec.runtime,
      activeVersion: version.version,
      versions: [...(old?.versions ?? []), { ...version, createdAt: now }],
      createdAt: old?.createdAt ?? now,
      updatedAt: now,
    };
    await this.write(record);
    return record;
  }

  async remove(name: string): Promise<void> {
    this.get(name);
    await rm(this.file(name), { force: true });
    this.records.delete(name);
  }

  private async write(record: FunctionRecord): Promise<void> {
    await writeFileAtomic(this.file(record.name), `${JSON.stringify(record, null, 2)}\n`);
    this.records.set(record.name, record);
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }
}
