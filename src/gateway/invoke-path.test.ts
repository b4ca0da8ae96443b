import { describe, expect, it } from 'vitest';
import { KilnError } from '../errors.js';
import { parseInvokePath } from './invoke-path.js';

describe('parseInvokePath', () => {
  it('splits the name from the path the function sees', () => {
    expect(parseInvokePath('/fn/hello')).toEqual({ name: 'hello', rest: '/' });
    expect(parseInvokePath('/fn/hello/')).toEqual({ name: 'hello', rest: '/' });
    expect(parseInvokePath('/fn/hello?x=1')).toEqual({ name: 'hello', rest: '/?x=1' });
    expect(parseInvokePath('/fn/hello/a/b%20c?q=%zz')).toEqual({ name: 'hello', rest: '/a/b%20c?q=%zz' });
    expect(parseInvokePath('/fn/h%65llo/x')).toEqual({ name: 'hello', rest: '/x' });
  });

  it('answers 400 invalid_path for malformed escapes in the name or the path', () => {
    for (const url of ['/fn/%E0%A4%A/', '/fn/%E0%A4%A', '/fn/%ff/', '/fn/hello/a%2', '/fn/hello/%g0?x']) {
      let caught: unknown;
      try {
        parseInvokePath(url);
      } catch (err) {
        caught = err;
      }
      expect(caught, url).toBeInstanceOf(KilnError);
      expect(caught).toMatchObject({ code: 'invalid_path', status: 400 });
    }
  });
});
