import { describe, expect, it } from 'vitest';
import { parseFunctionRef, parseVersionNumber, validateAliasName } from './function-ref.js';

describe('parseFunctionRef', () => {
  it('reads a name, a version pinned by number and an alias', () => {
    expect(parseFunctionRef('hello')).toEqual({ name: 'hello', kind: 'active' });
    expect(parseFunctionRef('hello@7')).toEqual({ name: 'hello', kind: 'version', version: 7 });
    expect(parseFunctionRef('hello@prod')).toEqual({ name: 'hello', kind: 'alias', alias: 'prod' });
  });

  it('answers 404 function_not_found for what names no function', () => {
    for (const ref of ['Hello', 'hello@', 'hello@Prod', 'hello@7@8', '@7', 'hello@-x', 'a@1234567890']) {
      expect(() => parseFunctionRef(ref), ref).toThrow(
        expect.objectContaining({ code: 'function_not_found', status: 404 }),
      );
    }
  });
});

describe('aliases and version numbers', () => {
  it('takes aliases that start with a letter', () => {
    expect(validateAliasName('prod')).toBe('prod');
    expect(validateAliasName('canary-2')).toBe('canary-2');
    for (const bad of ['7', '', 'Prod', 'x_y', '-a', 'a-', 'a'.repeat(64)]) {
      expect(() => validateAliasName(bad), bad).toThrow(expect.objectContaining({ code: 'invalid_alias' }));
    }
  });

  it('takes version numbers as numbers or digit strings', () => {
    expect(parseVersionNumber(3)).toBe(3);
    expect(parseVersionNumber('12')).toBe(12);
    for (const bad of [0, -1, 1.5, '1.5', 'x', null, undefined, '']) {
      expect(() => parseVersionNumber(bad)).toThrow(expect.objectContaining({ code: 'invalid_version' }));
    }
  });
});
