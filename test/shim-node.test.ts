import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './harness.js';

interface LambdaStyle {
  toHttpResponse(result: unknown): {
    status: number;
    headers: Record<string, string | string[]>;
    body: Buffer;
  };
}

const lambda = (await import(path.join(ROOT, 'runtimes/node/lambda-style.mjs'))) as LambdaStyle;

interface ParsedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  rawHeaders: string[];
  body: Buffer;
}
const httpLite = (await import(path.join(ROOT, 'runtimes/node/http-lite.mjs'))) as {
  parseRequest(buf: Buffer): [ParsedRequest, Buffer] | undefined;
};

describe("the shim's HTTP/1.1 parser", () => {
  const wire = (text: string) => Buffer.from(text, 'latin1');

  it('waits for a whole request: head, then body', () => {
    expect(httpLite.parseRequest(wire('GET / HTTP/1.1\r\nhost: a'))).toBeUndefined();
    expect(httpLite.parseRequest(wire('POST /x HTTP/1.1\r\ncontent-length: 5\r\n\r\nabc'))).toBeUndefined();
  });

  it('reads two requests that arrive in one read, keeping duplicate headers', () => {
    const first = httpLite.parseRequest(
      wire(
        'POST /a?b=1 HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\ncontent-length: 3\r\n\r\nabcGET /next HTTP/1.1\r\n\r\n',
      ),
    );
    expect(first).toBeDefined();
    const [req, rest] = first!;
    expect(req).toMatchObject({
      method: 'POST',
      url: '/a?b=1',
      headers: { 'x-a': '1, 2' },
      rawHeaders: ['X-A', '1', 'x-a', '2', 'content-length', '3'],
    });
    expect(req.body.toString()).toBe('abc');
    const [second, none] = httpLite.parseRequest(rest)!;
    expect(second).toMatchObject({ method: 'GET', url: '/next' });
    expect(none.length).toBe(0);
  });

  it('decodes a chunked body', () => {
    const [req] = httpLite.parseRequest(
      wire('PUT / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'),
    )!;
    expect(req.body.toString()).toBe('abcde');
  });

  it('refuses a request line that is not HTTP', () => {
    expect(() => httpLite.parseRequest(wire('HELLO\r\n\r\n'))).toThrow(/bad request line/);
  });
});

describe('Lambda result rules (API Gateway payload 2.0)', () => {
  it('passes a result with statusCode through, base64 bodies decoded', () => {
    const r = lambda.toHttpResponse({
      statusCode: 201,
      headers: { 'X-A': 1 },
      cookies: ['a=1', 'b=2'],
      body: Buffer.from('hi').toString('base64'),
      isBase64Encoded: true,
    });
    expect(r.status).toBe(201);
    expect(r.headers).toEqual({
      'x-a': '1',
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'application/json',
    });
    expect(r.body.toString()).toBe('hi');
  });

  it('makes anything else a 200 application/json whose body is the result', () => {
    expect(lambda.toHttpResponse({ message: 'hi' })).toMatchObject({
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
    expect(lambda.toHttpResponse({ message: 'hi' }).body.toString()).toBe('{"message":"hi"}');
    expect(lambda.toHttpResponse('Hello from Lambda!').body.toString()).toBe('Hello from Lambda!');
    expect(lambda.toHttpResponse(undefined).body.toString()).toBe('null');
  });
});

/** The shim on the host's node, on a unix socket: the same process a container runs. */
describe('node shim process', () => {
  let dir: string;
  let shim: ChildProcess;
  const clients: Client[] = [];

  async function startShim(): Promise<Client> {
    const socket = path.join(dir, `s${clients.length}.sock`);
    shim = spawn(process.execPath, [path.join(ROOT, 'runtimes/node/main.mjs')], {
      env: { PATH: process.env.PATH, KILN_SOCKET: socket },
      stdio: 'inherit',
    });
    const client = new Client('http://shim', { socketPath: socket });
    clients.push(client);
    for (let i = 0; i < 200; i++) {
      try {
        await client.request({ method: 'GET', path: '/' });
        return client;
      } catch {
        await sleep(10);
      }
    }
    throw new Error('shim did not start');
  }

  async function call(
    client: Client,
    method: string,
    p: string,
    body?: string,
    headers: Record<string, string> = {},
  ) {
    const res = await client.request({ method: method as 'GET', path: p, body, headers });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  const init = (client: Client, handler: string) =>
    call(client, 'POST', '/init', JSON.stringify({ handler, codeDir: dir }));

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
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    shim?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 until it is initialized', async () => {
    const client = await startShim();
    const res = await call(client, 'GET', '/');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text).error.code).toBe('not_initialized');
    shim.kill();
  });

  it('serves a fetch-style handler: method, path, query and body in; status, headers and body out', async () => {
    const client = await startShim();
    expect((await init(client, 'web.mjs')).status).toBe(200);
    const res = await call(client, 'POST', '/a/b?q=1', 'payload');
    expect(res).toMatchObject({ status: 202, text: 'POST /a/b?q=1 payload' });
    expect(res.headers['set-cookie']).toBe('x=1');
    const boom = await call(client, 'GET', '/boom');
    expect(boom.status).toBe(500);
    expect(boom.headers['x-kiln-error']).toBe('handler_error');
    expect(JSON.parse(boom.text).error.message).toContain('kaput');
    // A handler that throws leaves the instance usable.
    expect((await call(client, 'GET', '/ok')).status).toBe(202);
    shim.kill();
  });

  it('serves a CommonJS Lambda handler named file.export with an API Gateway v2 event', async () => {
    const client = await startShim();
    expect((await init(client, 'sub/lam.go')).status).toBe(200);
    const res = await call(client, 'POST', '/items/7?a=1&a=2&b=x', '{"k":1}', {
      'content-type': 'application/json',
      cookie: 'c1=v1; c2=v2',
      'x-kiln-deadline': String(Date.now() + 5000),
    });
    expect(res.status).toBe(200);
    const { event, left } = JSON.parse(res.text);
    expect(left).toBe(true);
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/items/7',
      rawQueryString: 'a=1&a=2&b=x',
      queryStringParameters: { a: '1,2', b: 'x' },
      cookies: ['c1=v1', 'c2=v2'],
      body: '{"k":1}',
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', path: '/items/7' }, stage: '$default' },
    });
    expect(event.headers['content-type']).toBe('application/json');
    expect(event.headers).not.toHaveProperty('x-kiln-deadline');
    shim.kill();
  });

  it('supports the callback form of Lambda handlers', async () => {
    const client = await startShim();
    expect((await init(client, 'sub/lam.cb')).status).toBe(200);
    expect(await call(client, 'GET', '/')).toMatchObject({ status: 203, text: 'via callback' });
    shim.kill();
  });

  it.each([
    ['throws.mjs', 'handler_load_failed', 'no luck at load'],
    ['empty.mjs', 'handler_not_found', 'exports neither'],
    ['sub/lam.missing', 'handler_not_found', 'no export "missing"'],
    ['nofile.handler', 'handler_not_found', 'no module'],
  ])('refuses to load %s with %s', async (handler, code, text) => {
    const client = await startShim();
    const res = await init(client, handler);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error).toMatchObject({ code, message: expect.stringContaining(text) });
    shim.kill();
  });
});
