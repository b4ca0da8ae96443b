import { describe, expect, it } from 'vitest';
import { chooseTokenSource, isLoopbackHost } from './bind-policy.js';

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])(
    '%s is loopback',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );
  it.each(['0.0.0.0', '::', '[::]', '192.0.2.2', '10.0.0.1', 'example.com', '128.0.0.1', '', 'fd00::2'])(
    '%s is not',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});

describe('chooseTokenSource', () => {
  it('takes KILN_TOKEN when it is set, on any host', () => {
    for (const host of ['127.0.0.1', '0.0.0.0'])
      expect(chooseTokenSource({ host, envToken: 'a-long-enough-token', insecureNoAuth: false })).toEqual({
        kind: 'env',
        token: 'a-long-enough-token',
      });
  });

  it('uses the token file when KILN_TOKEN is unset or empty, on any host: never no token by default', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::'])
      for (const envToken of [undefined, ''])
        expect(chooseTokenSource({ host, envToken, insecureNoAuth: false })).toEqual({ kind: 'file' });
  });

  it('runs without a token only with --insecure-no-auth, warning louder off loopback', () => {
    const local = chooseTokenSource({ host: '127.0.0.1', envToken: undefined, insecureNoAuth: true });
    expect(local).toMatchObject({ kind: 'none', warning: expect.stringContaining('every local user') });
    const open = chooseTokenSource({ host: '0.0.0.0', envToken: undefined, insecureNoAuth: true });
    expect(open).toMatchObject({ kind: 'none', warning: expect.stringContaining('ANYONE') });
  });

  it('refuses a weak KILN_TOKEN and a token together with --insecure-no-auth', () => {
    expect(() => chooseTokenSource({ host: '0.0.0.0', envToken: 'short', insecureNoAuth: false })).toThrow(
      expect.objectContaining({ code: 'weak_token' }),
    );
    expect(() =>
      chooseTokenSource({ host: '0.0.0.0', envToken: 'has a space in it!', insecureNoAuth: false }),
    ).toThrow(expect.objectContaining({ code: 'weak_token' }));
    expect(() =>
      chooseTokenSource({ host: '127.0.0.1', envToken: 'a-long-enough-token', insecureNoAuth: true }),
    ).toThrow(expect.objectContaining({ code: 'conflicting_auth' }));
  });
});
