import { describe, expect, it } from 'vitest';
import { parseSpec } from '../functions/spec.js';
import { type CurrentFunction, formatStep, planStack } from './stack-plan.js';

const spec = (extra: Record<string, unknown> = {}) => parseSpec({ name: 'a', runtime: 'node', ...extra });

describe('planStack', () => {
  it('creates, updates on source or spec, leaves the rest, prunes only when asked', () => {
    const desired = [
      { name: 'new', spec: spec(), sourceDigest: 'sha256:1' },
      { name: 'same', spec: spec(), sourceDigest: 'sha256:2' },
      { name: 'code', spec: spec(), sourceDigest: 'sha256:3' },
      { name: 'conf', spec: spec({ memoryMb: 256, env: { A: '2' } }), sourceDigest: 'sha256:4' },
    ];
    const current = [
      { name: 'same', spec: spec(), sourceDigest: 'sha256:2', activeVersion: 1 },
      { name: 'code', spec: spec(), sourceDigest: 'sha256:old', activeVersion: 1 },
      { name: 'conf', spec: spec({ env: { A: '1' } }), sourceDigest: 'sha256:4', activeVersion: 1 },
      { name: 'gone', spec: spec(), sourceDigest: 'sha256:5', activeVersion: 1 },
    ];
    expect(planStack(desired, current, { prune: false }).map(formatStep)).toEqual([
      '+ new',
      undefined,
      '~ code: source',
      '~ conf: env A; memoryMb 128 → 256',
    ]);
    expect(planStack(desired, current, { prune: true }).at(-1)).toEqual({ kind: 'remove', name: 'gone' });
  });

  it('counts a source the gateway did not record as changed', () => {
    const steps = planStack(
      [{ name: 'a', spec: spec(), sourceDigest: 'sha256:1' }],
      [{ name: 'a', spec: spec(), activeVersion: 1 }],
      {
        prune: false,
      },
    );
    expect(steps).toEqual([
      { kind: 'update', name: 'a', changes: ['source'], redeploy: true, activeVersion: 1 },
    ]);
  });

  it('moves the aliases the file names to the active version, redeploying nothing for them', () => {
    const desired = [
      { name: 'set', spec: spec(), sourceDigest: 'sha256:1', aliases: ['live'] },
      { name: 'moved', spec: spec(), sourceDigest: 'sha256:2', aliases: ['live', 'prod'] },
      { name: 'kept', spec: spec(), sourceDigest: 'sha256:3', aliases: ['live'] },
      { name: 'new-code', spec: spec(), sourceDigest: 'sha256:new', aliases: ['live'] },
    ];
    const current: CurrentFunction[] = [
      { name: 'set', spec: spec(), sourceDigest: 'sha256:1', activeVersion: 2 },
      {
        name: 'moved',
        spec: spec(),
        sourceDigest: 'sha256:2',
        activeVersion: 3,
        aliases: { live: 1, prod: 3 },
      },
      {
        name: 'kept',
        spec: spec(),
        sourceDigest: 'sha256:3',
        activeVersion: 4,
        aliases: { live: 4, old: 1 },
      },
      { name: 'new-code', spec: spec(), sourceDigest: 'sha256:4', activeVersion: 4, aliases: { live: 4 } },
    ];
    const steps = planStack(desired, current, { prune: false });
    expect(steps.map(formatStep)).toEqual([
      '~ set: alias live',
      '~ moved: alias live 1 → 3',
      undefined,
      '~ new-code: source; alias live',
    ]);
    expect(steps.map((s) => s.kind === 'update' && s.redeploy)).toEqual([false, false, false, true]);
  });
});
