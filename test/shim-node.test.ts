import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './harness.js';
import { SHIM_MAIN, ShimProcess } from './shim-process.js';

interface ParsedHead {
  method: string;
  url: string;
  httpVersion: string;
  headers: Record<string, string>;
  rawHeaders: string[];
}
interface HttpErrorShape {
  status: number;
  code: string;
}
const parser = (await import(path.join(ROOT, 'runtimes/node/http-parser.mjs'))) as {
  parseHead(buf: Buffer, end: number): ParsedHead;
  bodyFraming(headers: Record<string, string>, max: number): { chunked?: true; length?: number };
  ChunkedDecoder: new (max: number) => { push(buf: Buffer): number; body(): Buffer };
};

interface CompactionState {
  heapBytes: number;
  compactedHeapBytes: number;
  now: number;
  lastEnd: number;
  lastTookMs: number;
}
const compaction = (await import(path.join(ROOT, 'runtimes/node/heap-compaction.mjs'))) as {
  shouldCompact(state: CompactionState): boolean;
};

const wire = (text: string) => Buffer.from(text, 'latin1');
const head = (text: string) => parser.parseHead(wire(text), text.length);
function refusal(fn: () => unknown): HttpErrorShape {
  try {
    fn();
  } catch (err) {
    return { status: (err as HttpErrorShape).status, code: (err as HttpErrorShape).code };
  }
  throw new Error('not refused');
}

describe("the shim's sources", () => {
  it("are Latin-1: V8 keeps every loaded module's source, at two bytes a char if one char is not", async () => {
    const dir = path.join(ROOT, 'runtimes/node');
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.mjs'))) {
      const wide = [...(await readFile(path.join(dir, name), 'utf8'))].filter(
        (c) => c.codePointAt(0)! > 0xff,
      );
      expect(wide, name).toEqual([]);
    }
  });
});

describe("the shim's HTTP/1.1 parser", () => {
  it('reads a request head, keeping repeated headers and their case', () => {
    expect(head('POST /a?b=1 HTTP/1.1\r\nX-A: 1\r\nx-a:  2 \r\ncontent-length: 3')).toEqual({
      method: 'POST',
      url: '/a?b=1',
      httpVersion: '1.1',
      headers: { 'x-a': '1, 2', 'content-length': '3' },
      rawHeaders: ['X-A', '1', 'x-a', '2', 'content-length', '3'],
    });
  });

  it.each([
    ['HELLO', 400],
    ['GET  / HTTP/1.1', 400],
    ['GET / HTTP/2.0', 505],
    ['GET / HTTP/1.1\r\nno colon', 400],
    ['GET / HTTP/1.1\r\nbad name: x', 400],
    ['GET / HTTP/1.1\r\nx: 1\r\n folded', 400],
    ['G(T / HTTP/1.1', 400],
  ])('refuses %j with %i', (text, status) => {
    expect(refusal(() => head(text)).status).toBe(status);
  });

  it('frames bodies by content-length or chunked, refusing what a proxy could read otherwise', () => {
    expect(parser.bodyFraming({}, 100)).toEqual({ length: 0 });
    expect(parser.bodyFraming({ 'content-length': '5, 5' }, 100)).toEqual({ length: 5 });
    expect(parser.bodyFraming({ 'transfer-encoding': 'Chunked' }, 100)).toEqual({ chunked: true });
    expect(refusal(() => parser.bodyFraming({ 'content-length': '5, 6' }, 100)).status).toBe(400);
    expect(refusal(() => parser.bodyFraming({ 'content-length': '-1' }, 100)).status).toBe(400);
    expect(refusal(() => parser.bodyFraming({ 'content-length': '101' }, 100))).toEqual({
      status: 413,
      code: 'request_too_large',
    });
    expect(
      refusal(() => parser.bodyFraming({ 'transfer-encoding': 'chunked', 'content-length': '3' }, 100))
        .status,
    ).toBe(400);
    expect(refusal(() => parser.bodyFraming({ 'transfer-encoding': 'chunked, gzip' }, 100)).status).toBe(400);
    expect(refusal(() => parser.bodyFraming({ 'transfer-encoding': 'gzip, chunked' }, 100)).status).toBe(501);
  });

  it('decodes a chunked body fed a byte at a time, extensions and trailers dropped', () => {
    const bytes = wire('3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: t\r\n\r\nNEXT');
    const decoder = new parser.ChunkedDecoder(100);
    let end = -1;
    for (let i = 0; i < bytes.length && end < 0; i++) {
      const at = decoder.push(bytes.subarray(i, i + 1));
      if (at >= 0) end = i + at;
    }
    expect(decoder.body().toString()).toBe('abcde');
    expect(bytes.subarray(end).toString()).toBe('NEXT');
  });

  it('refuses a malformed or oversized chunked body', () => {
    expect(refusal(() => new parser.ChunkedDecoder(100).push(wire('zz\r\n'))).status).toBe(400);
    expect(refusal(() => new parser.ChunkedDecoder(100).push(wire('3\r\nabcX'))).status).toBe(400);
    expect(refusal(() => new parser.ChunkedDecoder(4).push(wire('5\r\n')))).toEqual({
      status: 413,
      code: 'request_too_large',
    });
  });
});

/** The shim on the host's node: the same process a container runs. */
describe("the node shim's idle heap compaction", () => {
  const MiB = 1024 * 1024;
  const after = { compactedHeapBytes: 6 * MiB, lastEnd: 1000, lastTookMs: 12 };

  it('compacts a heap that grew since the last compaction, once that one is long enough ago', () => {
    expect(compaction.shouldCompact({ ...after, heapBytes: 8 * MiB, now: 5000 })).toBe(true);
    // Never compacted: any heap worth it is compacted at once.
    expect(
      compaction.shouldCompact({
        heapBytes: 8 * MiB,
        compactedHeapBytes: 0,
        now: 30,
        lastEnd: Number.NEGATIVE_INFINITY,
        lastTookMs: 0,
      }),
    ).toBe(true);
  });

  it('leaves a heap that barely grew, and keeps compactions to a small share of the time', () => {
    expect(compaction.shouldCompact({ ...after, heapBytes: 6 * MiB + 100_000, now: 60_000 })).toBe(false);
    // 12 ms of compaction 100 ms ago: again now would spend over a tenth of the time compacting.
    expect(compaction.shouldCompact({ ...after, heapBytes: 9 * MiB, now: 1100 })).toBe(false);
  });
});

describe('node shim process', () => {
  let dir: string;
  let shim: ShimProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kiln-shim-'));
    await mkdir(path.join(dir, 'sub'));
    await writeFile(
      path.join(dir, 'web.mjs'),
      `export default { async fetch(req) { const u = new URL(req.url);
         if (u.pathname === '/boom') throw new Error('kaput');
         return new Response(req.method + ' ' + u.pathname + u.search + ' ' + (await req.text()), { status: 202, headers: { 'set-cookie': 'x=1' } }); } };`,
    );
    await writeFile(
      path.join(dir, 'sub/lam.cjs'),
      `exports.go = async (event, context) => ({ statusCode: 200, body: JSON.stringify({ event, fn: context.functionName, left: context.getRemainingTimeInMillis() > 0 }) });
       exports.cb = (event, context, callback) => callback(null, { statusCode: 203, body: 'via callback' });`,
    );
    await writeFile(path.join(dir, 'throws.mjs'), 'throw new Error("no luck at load");');
    await writeFile(path.join(dir, 'empty.mjs'), 'export const nothing = 1;');
    await writeFile(
      path.join(dir, 'gc-seen.mjs'),
      'export default { fetch: () => new Response(typeof globalThis.gc) };',
    );
  });

  afterEach(async () => {
    await shim?.stop();
    shim = undefined;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (env: Record<string, string> = {}) => {
    shim = await ShimProcess.start(path.join(dir, 's.sock'), env);
    return shim;
  };

  it('answers 503 until it is initialized, and health probes at any time', async () => {
    const s = await start();
    const res = await s.call('GET', '/');
    expect(res.status).toBe(503);
    expect(res.headers['x-kiln-error']).toBe('not_initialized');
    expect(JSON.parse(res.text).error.code).toBe('not_initialized');
    expect(await s.call('GET', '/anything', undefined, { 'x-kiln-health': '1' })).toMatchObject({
      status: 200,
      text: '{"ok":true}',
    });
  });

  it('serves a fetch-style handler: method, path, query and body in; status, headers and body out', async () => {
    const s = await start();
    expect((await s.init({ handler: 'web.mjs', codeDir: dir })).status).toBe(200);
    const res = await s.call('POST', '/a/b?q=1', 'payload');
    expect(res).toMatchObject({ status: 202, text: 'POST /a/b?q=1 payload' });
    expect(res.headers['set-cookie']).toBe('x=1');
    // A handler that throws: API Gateway's answer, Kiln's code in a header, the instance serving on.
    const boom = await s.call('GET', '/boom');
    expect(boom).toMatchObject({ status: 500, text: '{"message":"Internal Server Error"}' });
    expect(boom.headers['x-kiln-error']).toBe('handler_error');
    expect((await s.call('GET', '/ok')).status).toBe(202);
    // After init, /init is the user's path like any other.
    expect((await s.call('POST', '/init', 'x')).text).toBe('POST /init x');
  });

  it('serves a CommonJS Lambda handler named file.export with an API Gateway v2 event', async () => {
    const s = await start();
    expect((await s.init({ handler: 'sub/lam.go', codeDir: dir, function: { name: 'lam' } })).status).toBe(
      200,
    );
    const res = await s.call('POST', '/items/7?a=1&a=2&b=x', '{"k":1}', {
      'content-type': 'application/json',
      cookie: 'c1=v1; c2=v2',
      'x-kiln-deadline': String(Date.now() + 5000),
    });
    expect(res.status).toBe(200);
    const { event, fn, left } = JSON.parse(res.text);
    expect({ fn, left }).toEqual({ fn: 'lam', left: true });
    expect(event).toMatchObject({
      version: '2.0',
      rawPath: '/items/7',
      rawQueryString: 'a=1&a=2&b=x',
      queryStringParameters: { a: '1,2', b: 'x' },
      cookies: ['c1=v1', 'c2=v2'],
      body: '{"k":1}',
    });
    expect(event.headers).not.toHaveProperty('x-kiln-deadline');
  });

  it('supports the callback form of Lambda handlers', async () => {
    const s = await start();
    expect((await s.init({ handler: 'sub/lam.cb', codeDir: dir })).status).toBe(200);
    expect(await s.call('GET', '/')).toMatchObject({ status: 203, text: 'via callback' });
  });

  it.each([
    [{ handler: 'throws.mjs' }, 'handler_load_failed', 'no luck at load'],
    [{ handler: 'empty.mjs' }, 'handler_not_found', 'exports neither'],
    [{ handler: 'sub/lam.missing' }, 'handler_not_found', 'no export "missing"'],
    [{ handler: 'nofile.handler' }, 'handler_not_found', 'no module'],
    [{ handler: 'sub/lam.go', eventFormat: '3.0' }, 'invalid_event_format', 'eventFormat'],
  ])('refuses to load %j with %s', async (payload, code, text) => {
    const s = await start();
    const res = await s.init({ ...payload, codeDir: dir });
    expect(res.status).toBe(400);
    expect(res.headers['x-kiln-error']).toBe(code);
    expect(JSON.parse(res.text).error).toMatchObject({ code, message: expect.stringContaining(text) });
    // Still not initialized: a later /init may succeed.
    expect((await s.init({ handler: 'web.mjs', codeDir: dir })).status).toBe(200);
  });

  it('applies env before the handler loads', async () => {
    await writeFile(
      path.join(dir, 'env.mjs'),
      'const at = process.env.AT_LOAD; export const handler = async () => ({ at });',
    );
    const s = await start();
    expect((await s.init({ handler: 'env.handler', codeDir: dir, env: { AT_LOAD: 'yes' } })).status).toBe(
      200,
    );
    expect((await s.call('GET', '/')).text).toBe('{"at":"yes"}');
  });

  it('compacts its heap before answering a prewarmed /init, silently, and serves on', async () => {
    const s = await start();
    const init = await s.init({ handler: 'gc-seen.mjs', codeDir: dir, prewarmed: true });
    expect(init.status).toBe(200);
    // The compaction's gc comes from a context of its own: the handler's global has none.
    expect(await s.call('GET', '/')).toMatchObject({ status: 200, text: 'undefined' });
    // Idle past the shim's idle compaction, then a request again.
    await sleep(100);
    expect(await s.call('GET', '/')).toMatchObject({ status: 200, text: 'undefined' });
    expect([...s.stdout, ...s.stderr].filter((l) => l)).toEqual([]);
  });

  it('warms up as a stem cell without printing anything, then serves', async () => {
    const s = await start({ KILN_WARMUP: '1' });
    expect((await s.init({ handler: 'web.mjs', codeDir: dir })).status).toBe(200);
    expect((await s.call('GET', '/x')).status).toBe(202);
    expect([...s.stdout, ...s.stderr].filter((l) => l)).toEqual([]);
  });

  it('outside Kiln: loads KILN_HANDLER at boot and serves TCP on $PORT', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [SHIM_MAIN], {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        KILN_HANDLER: 'sub/lam.go',
        KILN_CODE_DIR: dir,
        KILN_EVENT_FORMAT: '1.0',
      },
      stdio: 'ignore',
    });
    try {
      let res: Response | undefined;
      for (let i = 0; i < 500 && !res; i++) {
        res = await fetch(`http://127.0.0.1:${port}/p?x=1`).catch(() => undefined);
        if (!res) await sleep(10);
      }
      const { event } = (await res!.json()) as { event: Record<string, unknown> };
      expect(event).toMatchObject({ version: '1.0', httpMethod: 'GET', path: '/p' });
      expect(event.requestContext).toMatchObject({ identity: { sourceIp: '127.0.0.1' } });
    } finally {
      child.kill();
    }
  });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
