// The node shim's light Response (runtimes/node/light-response.mjs): whatever a handler does
// with it behaves as undici's Response, and only a plain string answer skips undici.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './harness.js';

interface LightParts {
  status: number;
  headers: Record<string, string | string[]>;
  body: string | null;
}
const light = (await import(path.join(ROOT, 'runtimes/node/light-response.mjs'))) as {
  installLightResponse(): typeof Response;
  lightParts(r: unknown): LightParts | undefined;
};

describe('the light Response', () => {
  const Real = globalThis.Response;
  let Light: typeof Response;
  beforeAll(() => {
    Light = light.installLightResponse();
  });
  afterAll(() => {
    globalThis.Response = Real;
  });

  it('is the global Response, and its objects are Responses', () => {
    expect(globalThis.Response).toBe(Light);
    expect(light.installLightResponse()).toBe(Light);
    const r = new Response('hi');
    expect(r).toBeInstanceOf(Real);
    expect(r).toBeInstanceOf(Light);
    expect(Object.prototype.toString.call(r)).toBe('[object Response]');
  });

  it('hands a plain answer to the shim as status, headers and text, with undici defaults', () => {
    expect(light.lightParts(new Response('hi'))).toEqual({
      status: 200,
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body: 'hi',
    });
    expect(
      light.lightParts(
        new Response('{}', { status: 201, headers: { 'Content-Type': ' application/json ', 'X-A': '1' } }),
      ),
    ).toEqual({ status: 201, headers: { 'content-type': 'application/json', 'x-a': '1' }, body: '{}' });
    expect(light.lightParts(new Response(null, { status: 204 }))).toEqual({
      status: 204,
      headers: {},
      body: null,
    });
  });

  it('reads as undici would', async () => {
    const r = new Response('{"a":1}', { status: 202, headers: { 'x-a': '1' } });
    expect(r.status).toBe(202);
    expect(r.ok).toBe(true);
    expect(r.headers.get('x-a')).toBe('1');
    expect(r.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(await r.json()).toEqual({ a: 1 });
    expect(r.bodyUsed).toBe(true);
    expect(await new Response('t').text()).toBe('t');
    const c = new Response('c').clone();
    expect(await c.text()).toBe('c');
  });

  it("once looked at, it is undici's: changes to its headers reach the answer", () => {
    const r = new Response('x');
    r.headers.set('x-late', 'yes');
    expect(light.lightParts(r)).toBeUndefined();
    expect(r.headers.get('x-late')).toBe('yes');
  });

  it("throws undici's errors where undici throws them, at construction", () => {
    expect(() => new Response('x', { status: 99 })).toThrow(RangeError);
    expect(() => new Response('x', { status: 204 })).toThrow(TypeError);
    expect(() => new Response('x', { headers: { 'bad name': '1' } })).toThrow(TypeError);
    expect(() => new Response('x', { headers: { a: 'v\r\nx: 1' } })).toThrow(TypeError);
  });

  it('leaves everything but a string body and a plain init to undici', () => {
    for (const r of [
      new Response(new Uint8Array([1])),
      new Response('x', { headers: new Headers({ a: '1' }) }),
      new Response('x', { statusText: 'Fine' }),
      new Response(new ReadableStream()),
      Response.json({ a: 1 }),
      Response.redirect('http://example.com/', 302),
    ]) {
      expect(light.lightParts(r)).toBeUndefined();
      expect(r).toBeInstanceOf(Real);
    }
  });

  it('can be extended', async () => {
    class Mine extends Response {
      answer() {
        return 42;
      }
    }
    const m = new Mine('sub');
    expect(m.answer()).toBe(42);
    expect(m).toBeInstanceOf(Real);
    expect(await m.text()).toBe('sub');
  });
});
