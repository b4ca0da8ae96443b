import { describe, expect, it } from 'vitest';
import { parseSpec } from './spec.js';

describe('parseSpec', () => {
  it('fills the documented defaults', () => {
    expect(parseSpec({ name: 'hello', runtime: 'node' })).toEqual({
      name: 'hello',
      runtime: 'node',
      env: {},
      eventFormat: '2.0',
      memoryMb: 128,
      cpus: 1,
      pids: 256,
      timeoutMs: 30_000,
      concurrency: 1,
      minInstances: 0,
      maxInstances: 10,
      maxQueue: 100,
      idleTtlMs: 300_000,
      asyncRetries: 2,
      maxAsyncQueue: 1000,
      asyncRetentionMs: 86_400_000,
    });
  });

  it('bounds the async fields', () => {
    expect(parseSpec({ name: 'a', runtime: 'node', asyncRetries: '0', maxAsyncQueue: 5 })).toMatchObject({
      asyncRetries: 0,
      maxAsyncQueue: 5,
    });
    expect(() => parseSpec({ name: 'a', runtime: 'node', asyncRetries: 11 })).toThrow(/asyncRetries/);
    expect(() => parseSpec({ name: 'a', runtime: 'node', asyncRetentionMs: 10 })).toThrow(/asyncRetentionMs/);
  });

  it('reads numbers and env from query strings', () => {
    const spec = parseSpec({
      name: 'a',
      runtime: 'node',
      memoryMb: '256',
      cpus: '0.5',
      env: '{"A":"1"}',
      handler: 'app.lambdaHandler',
    });
    expect(spec).toMatchObject({ memoryMb: 256, cpus: 0.5, env: { A: '1' }, handler: 'app.lambdaHandler' });
  });

  it('takes the payload format and the region, from JSON or a query', () => {
    expect(parseSpec({ name: 'a', runtime: 'node', eventFormat: '1.0' }).eventFormat).toBe('1.0');
    expect(parseSpec({ name: 'a', runtime: 'node', eventFormat: 1 }).eventFormat).toBe('1.0');
    expect(parseSpec({ name: 'a', runtime: 'node', eventFormat: 2.0 }).eventFormat).toBe('2.0');
    expect(parseSpec({ name: 'a', runtime: 'node', region: 'eu-central-2' }).region).toBe('eu-central-2');
    expect(parseSpec({ name: 'a', runtime: 'node', region: 'us-gov-west-1' }).region).toBe('us-gov-west-1');
    expect(parseSpec({ name: 'a', runtime: 'node' }).region).toBeUndefined();
  });

  it('takes secret names from JSON or a comma-separated query, sorted, each once; none is no field', () => {
    expect(parseSpec({ name: 'a', runtime: 'node', secrets: ['db', 'api.key', 'db'] }).secrets).toEqual([
      'api.key',
      'db',
    ]);
    expect(parseSpec({ name: 'a', runtime: 'node', secrets: 'db, api.key' }).secrets).toEqual([
      'api.key',
      'db',
    ]);
    expect(parseSpec({ name: 'a', runtime: 'node', secrets: '["x"]' }).secrets).toEqual(['x']);
    expect(parseSpec({ name: 'a', runtime: 'node', secrets: [] })).not.toHaveProperty('secrets');
  });

  it('takes the functions it calls from JSON or a comma-separated query, sorted, each once', () => {
    expect(parseSpec({ name: 'a', runtime: 'node', calls: ['quote', 'a', 'quote'] }).calls).toEqual([
      'a',
      'quote',
    ]);
    expect(parseSpec({ name: 'a', runtime: 'node', calls: 'quote, tax' }).calls).toEqual(['quote', 'tax']);
    expect(parseSpec({ name: 'a', runtime: 'node', calls: '["x"]' }).calls).toEqual(['x']);
    expect(parseSpec({ name: 'a', runtime: 'node', calls: '' })).not.toHaveProperty('calls');
  });

  it('lets env set the unreserved Lambda variables and credentials', () => {
    const env = {
      TZ: 'Europe/Paris',
      LANG: 'de_DE.UTF-8',
      AWS_ACCESS_KEY_ID: 'AKIA',
      AWS_LAMBDA_LOG_LEVEL: 'WARN',
    };
    expect(parseSpec({ name: 'a', runtime: 'node', env }).env).toEqual(env);
  });

  it.each([
    [{ runtime: 'node' }, 'missing_name'],
    [{ name: 'Hello', runtime: 'node' }, 'invalid_name'],
    [{ name: 'a_b', runtime: 'node' }, 'invalid_name'],
    [{ name: '-a', runtime: 'node' }, 'invalid_name'],
    [{ name: 'a'.repeat(64), runtime: 'node' }, 'invalid_name'],
    [{ name: 'a' }, 'missing_runtime'],
    [{ name: 'a', runtime: 'cobol' }, 'unknown_runtime'],
    [{ name: 'a', runtime: 'node', memoryMb: 'lots' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', memoryMb: 1 }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', timeoutMs: 1.5 }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', env: { A: 1 } }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', env: { 'A-B': 'x' } }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', handler: '../x.handler' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', colour: 'red' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', bundle: 'no' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', eventFormat: '3.0' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', eventFormat: 'v1' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', region: 'mars' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', region: 'US-EAST-1' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', env: { AWS_REGION: 'eu-west-1' } }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', env: { _HANDLER: 'x.y' } }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', env: { LAMBDA_TASK_ROOT: '/x' } }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', minInstances: 5, maxInstances: 2 }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', auth: 'basic' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', auth: true }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', secrets: ['../etc/shadow'] }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', secrets: { db: 'x' } }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', secrets: [7] }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', calls: ['Quote'] }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', calls: ['quote@2'] }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', calls: 'a,,b' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', calls: { quote: true } }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', env: { KILN_GATEWAY_SOCKET: '/tmp/x' } }, 'invalid_spec'],
  ])('refuses %j with %s', (input, code) => {
    expect(() => parseSpec(input)).toThrow(expect.objectContaining({ code, status: 400 }));
  });

  it('reads bundle: false from JSON or a query string; true is the default, left out', () => {
    expect(parseSpec({ name: 'a', runtime: 'node', bundle: false }).bundle).toBe(false);
    expect(parseSpec({ name: 'a', runtime: 'node', bundle: 'false' }).bundle).toBe(false);
    expect(parseSpec({ name: 'a', runtime: 'node', bundle: 'true' })).not.toHaveProperty('bundle');
  });

  it('reads auth: "token" from JSON or a query string; "none" and absent leave invokes public', () => {
    expect(parseSpec({ name: 'a', runtime: 'node', auth: 'token' }).auth).toBe('token');
    expect(parseSpec({ name: 'a', runtime: 'node', auth: 'none' })).not.toHaveProperty('auth');
    expect(parseSpec({ name: 'a', runtime: 'node' })).not.toHaveProperty('auth');
  });

  it('accepts a 63-character name', () => {
    expect(parseSpec({ name: 'a'.repeat(63), runtime: 'node' }).name).toHaveLength(63);
  });
});
