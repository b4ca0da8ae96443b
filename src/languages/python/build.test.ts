import { describe, expect, it } from 'vitest';
import { pythonModulePath } from './build.js';

describe('pythonModulePath', () => {
  it.each([
    ['handler.handler', 'handler'],
    ['app.lambda_handler', 'app'],
    ['src.app.handler', 'src/app'],
    // Lambda's python runtime reads "/" as a package separator (awslambdaric _get_handler).
    ['src/app.handler', 'src/app'],
    ['pkg/sub/mod.fn', 'pkg/sub/mod'],
  ])('%s is the module %s', (handler, path) => {
    expect(pythonModulePath(handler)).toBe(path);
  });

  it.each([
    'handler',
    '.handler',
    'app.',
    '/app.handler',
    'src//app.handler',
    'src/.app.h',
    'a-b.handler',
    'a b.h',
  ])('refuses %j', (handler) => {
    expect(pythonModulePath(handler)).toBeUndefined();
  });
});
