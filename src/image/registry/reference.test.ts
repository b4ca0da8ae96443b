import { describe, expect, it } from 'vitest';
import { parseChallenge } from './challenge.js';
import { formatReference, isLoopback, parseReference } from './reference.js';

describe('parseReference', () => {
  it('reads registry, repository, tag and digest as Docker does', () => {
    expect(parseReference('127.0.0.1:5000/fns/hello:v1')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'fns/hello',
      tag: 'v1',
    });
    expect(parseReference('ghcr.io/me/fn')).toEqual({
      registry: 'ghcr.io',
      repository: 'me/fn',
      tag: 'latest',
    });
    expect(parseReference('busybox')).toEqual({
      registry: 'docker.io',
      repository: 'library/busybox',
      tag: 'latest',
    });
    expect(parseReference('localhost/a/b:1')).toMatchObject({ registry: 'localhost', repository: 'a/b' });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(parseReference(`r.io/x@${digest}`)).toEqual({ registry: 'r.io', repository: 'x', digest });
    expect(formatReference(parseReference(`r.io/x:t@${digest}`))).toBe(`r.io/x:t@${digest}`);
  });

  it('refuses what is not a reference', () => {
    for (const bad of [
      '',
      'R.io/Upper',
      'r.io/x:',
      'r.io/x@sha256:12',
      'r.io/../x',
      'r.io//x',
      'r.io/x:t t',
    ]) {
      expect(() => parseReference(bad), bad).toThrow(/invalid_reference|not an image reference/);
    }
  });

  it('lets only loopback registries be plain http by default', () => {
    expect(isLoopback('127.0.0.1:5000')).toBe(true);
    expect(isLoopback('localhost:5000')).toBe(true);
    expect(isLoopback('[::1]:5000')).toBe(true);
    expect(isLoopback('10.0.0.1:5000')).toBe(false);
    expect(isLoopback('127.0.0.1.evil.com')).toBe(false);
  });
});

describe('parseChallenge', () => {
  it('reads Basic and Bearer challenges', () => {
    expect(parseChallenge('Basic realm="kiln-test"')).toEqual({
      scheme: 'basic',
      params: { realm: 'kiln-test' },
    });
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/busybox:pull',
      },
    });
    expect(parseChallenge('Bearer realm=x, error="invalid_token"')?.params).toEqual({
      realm: 'x',
      error: 'invalid_token',
    });
    expect(parseChallenge(undefined)).toBeUndefined();
  });
});
