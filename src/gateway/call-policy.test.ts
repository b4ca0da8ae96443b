import { describe, expect, it } from 'vitest';
import type { Caller } from '../pool/call-listeners.js';
import { admitCall, CallDepths, MAX_CALL_DEPTH } from './call-policy.js';

const API: Caller = { instance: 'k1', function: 'api', version: 3, calls: ['quote', 'tax'] };

describe('admitCall', () => {
  it('lets an instance invoke the functions its spec names, any version or alias of them', () => {
    expect(admitCall('/fn/quote/', API, 0)).toEqual({ caller: API, depth: 1 });
    expect(admitCall('/fn/tax/rates?country=fr', API, 0).depth).toBe(1);
    expect(admitCall('/fn/quote@7/', API, 2).depth).toBe(3);
    expect(admitCall('/fn/quote@live', API, 0).depth).toBe(1);
  });

  it.each([
    '/fn/orders/',
    '/fn/api/',
    '/fn/quotes/',
    '/fn/..%2Fquote/',
    '/functions',
    '/functions/quote',
    '/secrets',
    '/instances',
    '/async/quote/',
    '/2015-03-31/functions/quote/invocations',
    '/metrics',
    '/',
  ])('refuses %s with 403 call_not_allowed', (url) => {
    expect(() => admitCall(url, API, 0)).toThrow(
      expect.objectContaining({ code: 'call_not_allowed', status: 403 }),
    );
  });

  it('refuses the call past MAX_CALL_DEPTH', () => {
    expect(admitCall('/fn/quote/', API, MAX_CALL_DEPTH - 1).depth).toBe(MAX_CALL_DEPTH);
    expect(() => admitCall('/fn/quote/', API, MAX_CALL_DEPTH)).toThrow(
      expect.objectContaining({ code: 'call_depth_exceeded', status: 403 }),
    );
  });

  it('answers a malformed path as any invoke does', () => {
    expect(() => admitCall('/fn/quote%E0%A4%A/', API, 0)).toThrow(
      expect.objectContaining({ code: 'invalid_path' }),
    );
  });
});

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
