import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FunctionStore, type FunctionVersion } from './function-store.js';
import { parseSpec } from './spec.js';

let dir: string;
let store: FunctionStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-functions-'));
  store = new FunctionStore(dir);
  await store.load();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function version(name: string, n: number): Omit<FunctionVersion, 'createdAt'> {
  return {
    version: n,
    image: `sha256:${String(n).padStart(64, '0')}`,
    layer: `sha256:${String(n).padStart(64, '1')}`,
    handler: 'index.handler',
    source: 'index.mjs',
    spec: parseSpec({ name, runtime: 'node' }),
  };
}

describe('FunctionStore', () => {
  it('resolves NAME, NAME@VERSION and NAME@ALIAS', async () => {
    for (const n of [1, 2, 3]) await store.addActiveVersion(version('f', n));
    await store.setAlias('f', 'prod', 1);
    expect(store.resolve('f').version).toBe(3);
    expect(store.resolve('f@2').version).toBe(2);
    expect(store.resolve('f@prod').version).toBe(1);
    expect(() => store.resolve('f@9')).toThrow(
      expect.objectContaining({ code: 'version_not_found', status: 404 }),
    );
    expect(() => store.resolve('f@beta')).toThrow(
      expect.objectContaining({ code: 'alias_not_found', status: 404 }),
    );
    expect(() => store.resolve('g@1')).toThrow(expect.objectContaining({ code: 'function_not_found' }));
    await expect(store.setAlias('f', 'x', 9)).rejects.toMatchObject({ code: 'version_not_found' });
  });

  it('rolls back to the highest version below the active one, and refuses when there is none', async () => {
    await store.addActiveVersion(version('f', 1));
    await expect(async () => store.previousVersion('f')).rejects.toMatchObject({
      code: 'no_previous_version',
    });
    for (const n of [2, 3]) await store.addActiveVersion(version('f', n));
    expect(store.previousVersion('f').version).toBe(2);
    await store.activate('f', 2);
    expect(store.previousVersion('f').version).toBe(1);
    expect(store.nextVersion('f')).toBe(4);
  });

  it('keeps aliases across new versions and lists the versions they name', async () => {
    await store.addActiveVersion(version('f', 1));
    await store.setAlias('f', 'prod', 1);
    await store.setAlias('f', 'old', 1);
    await store.addActiveVersion(version('f', 2));
    expect(store.aliasedVersions('f')).toEqual([1]);
    await store.removeAlias('f', 'old');
    expect(store.get('f').aliases).toEqual({ prod: 1 });
    await expect(store.removeAlias('f', 'old')).rejects.toMatchObject({ code: 'alias_not_found' });
    expect(store.aliasedVersions('nobody')).toEqual([]);
  });

  it('applies changes made at once one after another, none lost, and reads them back after a restart', async () => {
    await store.addActiveVersion(version('f', 1));
    await Promise.all([
      store.setAlias('f', 'a', 1),
      store.addActiveVersion(version('f', 2)),
      store.setAlias('f', 'b', 1),
      store.activate('f', 1),
    ]);
    const reopened = new FunctionStore(dir);
    // A temp file a crash left mid-write is not a function.
    await writeFile(path.join(dir, '.f.json.0123456789ab.tmp'), '{"half');
    await reopened.load();
    expect(reopened.get('f')).toMatchObject({ activeVersion: 1, aliases: { a: 1, b: 1 } });
    expect(reopened.get('f').versions.map((v) => v.version)).toEqual([1, 2]);
    await expect(store.addActiveVersion(version('f', 2))).rejects.toMatchObject({ code: 'version_exists' });
    expect((await readdir(dir)).filter((f) => !f.endsWith('.tmp'))).toEqual(['f.json']);
  });
});
