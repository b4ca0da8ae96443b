import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../functions/spec.js';
import { formatStep, planStack } from './stack-plan.js';

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
      { name: 'same', spec: spec(), sourceDigest: 'sha256:2' },
      { name: 'code', spec: spec(), sourceDigest: 'sha256:old' },
      { name: 'conf', spec: spec({ env: { A: '1' } }), sourceDigest: 'sha256:4' },
      { name: 'gone', spec: spec(), sourceDigest: 'sha256:5' },
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
      [{ name: 'a', spec: spec() }],
      {
        prune: false,
      },
    );
    expect(steps).toEqual([{ kind: 'update', name: 'a', changes: ['source'] }]);
  });
});
