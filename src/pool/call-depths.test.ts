import { describe, expect, it } from 'vitest';
import { CallDepths, callDepthOf } from './call-depths.js';

describe('CallDepths', () => {
  it('is the deepest call an instance serves now, 0 when none', () => {
    const depths = new CallDepths();
    expect(depths.of('k1')).toBe(0);
    const leave2 = depths.enter('k1', 2);
    const leave5 = depths.enter('k1', 5);
    const again5 = depths.enter('k1', 5);
    depths.enter('k2', 9);
    expect(depths.of('k1')).toBe(5);
    leave5();
    leave5();
    expect(depths.of('k1')).toBe(5);
    again5();
    expect(depths.of('k1')).toBe(2);
    leave2();
    expect(depths.of('k1')).toBe(0);
    expect(depths.of('k2')).toBe(9);
  });
});

describe('callDepthOf', () => {
  it('reads a stored depth, 0 for none or nonsense', () => {
    expect(callDepthOf({ 'x-kiln-call-depth': '3' })).toBe(3);
    expect(callDepthOf({ 'x-kiln-call-depth': ['4'] })).toBe(4);
    expect(callDepthOf({})).toBe(0);
    expect(callDepthOf({ 'x-kiln-call-depth': '-2' })).toBe(0);
    expect(callDepthOf({ 'x-kiln-call-depth': 'deep' })).toBe(0);
  });
});
