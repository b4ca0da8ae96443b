import { describe, expect, it } from 'vitest';
import { parseSpec } from '../functions/spec.js';
import { type LoadedFunction, missingSecrets } from './stack-loader.js';

const fn = (name: string, line: number, secrets?: string[]): LoadedFunction => ({
  name,
  line,
  file: 'kiln.yaml',
  dir: name,
  absDir: `/stack/${name}`,
  fields: {},
  dependsOn: [],
  aliases: [],
  query: {},
  sourceDigest: 'sha256:0',
  spec: parseSpec({ name, runtime: 'node', ...(secrets ? { secrets } : {}) }),
});

describe('missingSecrets', () => {
  it('names each function whose secrets the gateway lacks, at its line', () => {
    const issues = missingSecrets(
      [fn('plain', 2), fn('ok', 4, ['db']), fn('short', 7, ['db', 'api-key', 'smtp'])],
      new Set(['db']),
    );
    expect(issues).toEqual([
      {
        file: 'kiln.yaml',
        line: 7,
        column: 3,
        field: 'functions.short.secrets',
        message: 'no secret "api-key", "smtp" on the gateway: create it first (kiln secret create NAME)',
      },
    ]);
  });
});
