import { describe, expect, it } from 'vitest';
import type { FunctionRecord, FunctionVersion } from '../functions/function-store.js';
import { functionsUsingSecret } from './secret-users.js';

function version(n: number, secrets?: string[]): FunctionVersion {
  return {
    version: n,
    image: 'sha256:i',
    layer: 'sha256:l',
    handler: 'h',
    source: 's',
    createdAt: '',
    spec: { name: 'f', runtime: 'node', env: {}, secrets } as FunctionVersion['spec'],
  };
}

function record(name: string, active: number, versions: FunctionVersion[], aliases?: Record<string, number>) {
  return {
    name,
    runtime: 'node',
    activeVersion: active,
    versions,
    aliases,
    createdAt: '',
    updatedAt: '',
  } as FunctionRecord;
}

describe('functionsUsingSecret', () => {
  it('counts the active version and aliased ones, not versions only reachable pinned', () => {
    const records = [
      record('active', 2, [version(1), version(2, ['db'])]),
      record('aliased', 2, [version(1, ['db']), version(2)], { prod: 1 }),
      record('old', 2, [version(1, ['db']), version(2)]),
      record('other', 1, [version(1, ['api'])]),
    ];
    expect(functionsUsingSecret(records, 'db')).toEqual(['active', 'aliased']);
    expect(functionsUsingSecret(records, 'api')).toEqual(['other']);
    expect(functionsUsingSecret(records, 'none')).toEqual([]);
  });
});
