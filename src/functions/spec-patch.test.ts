import { describe, expect, it } from 'vitest';
import { parseSpec } from './spec.js';
import { mergePatch, patchSpec, sameSpec } from './spec-patch.js';

const base = parseSpec({ name: 'f', runtime: 'node', memoryMb: 256, env: { A: '1', B: '2' } });

describe('patchSpec', () => {
  it('replaces fields, merges env key by key, and null resets or removes', () => {
    const spec = patchSpec(base, { timeoutMs: 5000, memoryMb: null, env: { B: null, C: '3' } });
    expect(spec.timeoutMs).toBe(5000);
    expect(spec.memoryMb).toBe(128);
    expect(spec.env).toEqual({ A: '1', C: '3' });
    expect(spec.name).toBe('f');
  });

  it('validates the result like any spec', () => {
    expect(() => patchSpec(base, { memoryMb: 1 })).toThrow(expect.objectContaining({ code: 'invalid_spec' }));
    expect(() => patchSpec(base, { bogus: 1 })).toThrow(expect.objectContaining({ code: 'invalid_spec' }));
    expect(() => patchSpec(base, {})).toThrow(expect.objectContaining({ code: 'invalid_spec' }));
    expect(() => patchSpec(base, [1])).toThrow(expect.objectContaining({ code: 'invalid_spec' }));
  });

  it('refuses fields that change the build', () => {
    for (const field of ['name', 'runtime', 'handler', 'bundle']) {
      expect(() => patchSpec(base, { [field]: 'x' })).toThrow(
        expect.objectContaining({ code: 'not_patchable' }),
      );
    }
  });
});

describe('mergePatch (RFC 7386 appendix A)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j patched with %j is %j', (target, patch, result) => {
    expect(mergePatch(target, patch)).toEqual(result);
  });
});

describe('sameSpec', () => {
  it('ignores key order, not values', () => {
    const reordered = parseSpec({ env: { B: '2', A: '1' }, memoryMb: 256, runtime: 'node', name: 'f' });
    expect(sameSpec(base, reordered)).toBe(true);
    expect(sameSpec(base, { ...base, memoryMb: 512 })).toBe(false);
    expect(sameSpec(base, { ...base, env: { A: '1' } })).toBe(false);
  });
});
