import { describe, expect, it } from 'vitest';
import { parseSpec } from './spec.js';

describe('parseSpec', () => {
  it('fills the documented defaults', () => {
    expect(parseSpec({ name: 'hello', runtime: 'node' })).toEqual({
      name: 'hello',
      runtime: 'node',
      env: {},
      memoryMb: 128,
      cpus: 1,
      pids: 256,
      timeoutMs: 30_000,
      concurrency: 1,
      minInstances: 0,
      maxInstances: 10,
      maxQueue: 100,
      idleTtlMs: 300_000,
    });
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
    [{ name: 'a', runtime: 'node', minInstances: 5, maxInstances: 2 }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', auth: 'basic' }, 'invalid_spec'],
    [{ name: 'a', runtime: 'node', auth: true }, 'invalid_spec'],
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
