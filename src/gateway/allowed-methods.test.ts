import { describe, expect, it } from 'vitest';
import { allowedMethods } from './allowed-methods.js';

const routes = [
  { method: 'ALL', path: '/functions' },
  { method: 'GET', path: '/functions' },
  { method: 'POST', path: '/functions' },
  { method: 'GET', path: '/functions/:name' },
  { method: 'DELETE', path: '/functions/:name' },
  { method: 'PATCH', path: '/functions/:name' },
  { method: 'POST', path: '/async/:name/*' },
  { method: 'POST', path: '/instances/:id/exec' },
];

describe('allowedMethods', () => {
  it('lists the methods of every route whose pattern matches, HEAD with GET', () => {
    expect(allowedMethods(routes, '/functions')).toEqual(['GET', 'HEAD', 'POST']);
    expect(allowedMethods(routes, '/functions/hello')).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
    expect(allowedMethods(routes, '/async/hello/a/b')).toEqual(['POST']);
    expect(allowedMethods(routes, '/instances/k1/exec')).toEqual(['POST']);
  });

  it('finds none for a path no route has (a 404), nor across segments', () => {
    expect(allowedMethods(routes, '/nothing')).toEqual([]);
    expect(allowedMethods(routes, '/functions/a/b')).toEqual([]);
    expect(allowedMethods(routes, '/instances/k1/exec/x')).toEqual([]);
  });
});
