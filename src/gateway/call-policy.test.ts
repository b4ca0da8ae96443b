import { describe, expect, it } from 'vitest';
import type { Caller } from '../pool/call-listeners.js';
import { admitCall, MAX_CALL_DEPTH } from './call-policy.js';

const API: Caller = { instance: 'k1', function: 'api', version: 3, calls: ['quote', 'tax'] };

describe('admitCall', () => {
  it('lets an instance invoke the functions its spec names, any version or alias of them', () => {
    expect(admitCall('GET', '/fn/quote/', API, 0)).toEqual({ kind: 'invoke', caller: API, depth: 1 });
    expect(admitCall('POST', '/fn/tax/rates?country=fr', API, 0).depth).toBe(1);
    expect(admitCall('POST', '/fn/quote@7/', API, 2).depth).toBe(3);
    expect(admitCall('POST', '/fn/quote@live', API, 0).depth).toBe(1);
  });

  it('lets it submit async invocations of them, and read nothing back over the socket', () => {
    expect(admitCall('POST', '/async/quote/orders/7', API, 3)).toEqual({
      kind: 'async',
      caller: API,
      depth: 4,
    });
    expect(admitCall('POST', '/async/tax', API, 0).kind).toBe('async');
    for (const [method, url] of [
      ['GET', '/async/quote/'],
      ['GET', '/async/0f8fad5b-d9cb-469f-a165-70867728950e'],
      ['POST', '/async/0f8fad5b-d9cb-469f-a165-70867728950e/retry'],
      ['GET', '/async'],
    ] as const) {
      expect(() => admitCall(method, url, API, 0)).toThrow(
        expect.objectContaining({ code: 'call_not_allowed' }),
      );
    }
  });

  it.each([
    ['POST', '/async/quote/../tax'],
    ['POST', '/async/quote/../orders/'],
    ['POST', '/async/quote/../../functions'],
    ['POST', '/async/quote/%2e%2e/orders'],
    ['POST', '/async/quote/%2E%2E/%2e%2E/secrets'],
    ['POST', '/async/quote/./x'],
    ['POST', '/async/quote\\..\\orders'],
    ['GET', '/fn/quote/../../functions'],
  ] as const)(
    'refuses %s %s: a path the control plane would resolve elsewhere (dot segments)',
    (method, url) => {
      expect(() => admitCall(method, url, API, 0)).toThrow(
        expect.objectContaining({ code: 'call_not_allowed', status: 403 }),
      );
    },
  );

  it.each([
    '/fn/orders/',
    '/fn/api/',
    '/fn/quotes/',
    '/fn/..%2Fquote/',
    '/functions',
    '/functions/quote',
    '/secrets',
    '/instances',
    '/async/orders/',
    '/async/api',
    '/2015-03-31/functions/quote/invocations',
    '/metrics',
    '/',
  ])('refuses %s with 403 call_not_allowed', (url) => {
    expect(() => admitCall('POST', url, API, 0)).toThrow(
      expect.objectContaining({ code: 'call_not_allowed', status: 403 }),
    );
  });

  it('refuses the call past MAX_CALL_DEPTH', () => {
    expect(admitCall('POST', '/fn/quote/', API, MAX_CALL_DEPTH - 1).depth).toBe(MAX_CALL_DEPTH);
    expect(() => admitCall('POST', '/fn/quote/', API, MAX_CALL_DEPTH)).toThrow(
      expect.objectContaining({ code: 'call_depth_exceeded', status: 403 }),
    );
  });

  it('answers a malformed path as any invoke does', () => {
    expect(() => admitCall('POST', '/fn/quote%E0%A4%A/', API, 0)).toThrow(
      expect.objectContaining({ code: 'invalid_path' }),
    );
  });
});
