import { describe, expect, it } from 'vitest';
import { BearerCheck, unauthorized } from './bearer.js';

describe('BearerCheck', () => {
  const check = new BearerCheck('s3cret-token-0123456789');

  it('accepts the token as a Bearer credential, the scheme in any case', () => {
    expect(check.accepts('Bearer s3cret-token-0123456789')).toBe(true);
    expect(check.accepts('bearer s3cret-token-0123456789')).toBe(true);
  });

  it.each([
    undefined,
    '',
    'Bearer',
    'Bearer ',
    's3cret-token-0123456789',
    'Basic s3cret-token-0123456789',
    'Bearer s3cret-token-012345678',
    'Bearer s3cret-token-01234567890',
    'Bearer S3CRET-TOKEN-0123456789',
    'Bearer s3cret-token-0123456789 extra',
  ])('refuses %j', (header) => {
    expect(check.accepts(header)).toBe(false);
  });

  it('refuses an empty credential even against an empty token', () => {
    expect(new BearerCheck('').accepts(undefined)).toBe(false);
    expect(new BearerCheck('').accepts('Bearer')).toBe(false);
  });

  it('answers 401 unauthorized with WWW-Authenticate: Bearer', () => {
    const err = unauthorized('this route');
    expect(err).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(err.headers['www-authenticate']).toMatch(/^Bearer /);
  });
});
