// The Node shim's HTTP/1.1 on the wire (SHIM-PROTOCOL.md §1 and §6): how it listens, and what
// any client may send it (RFC 9110/9112): HEAD, Expect: 100-continue, pipelining, slow and
// half-sent requests, size caps, chunked bodies, malformed requests.
import { spawn } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawConnection, SHIM_MAIN, ShimProcess } from '../shim-process.js';

const WEB = `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/slow') await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms'))));
    if (url.pathname === '/forever') {
      return new Response(new ReadableStream({
        pull: (c) => new Promise((r) => setTimeout(() => { c.enqueue(new TextEncoder().encode('x')); r(); }, 5)),
      }));
    }
    const body = await request.text();
    return new Response(request.method + ' ' + url.pathname + ' ' + body.length + ' ' + body.slice(0, 12));
  },
};
`;
const LAMBDA = `export const handler = async () => ({ statusCode: 200, body: 'hello' });`;
const MAX_BODY = 1000;

interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Split what a connection read into responses (content-length or chunked framing). */
function responses(text: string, bodiless: number[] = []): WireResponse[] {
  const out: WireResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine = '', ...lines] = text.slice(at, end).split('\r\n');
    // Stray bytes (a body where none belongs) would show up here.
    if (!/^HTTP\/1\.1 \d{3} /.test(statusLine))
      throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const l of lines)
      headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const status = Number(statusLine.split(' ')[1]);
    at = end + 4;
    let body = '';
    if (status === 100 || bodiless.includes(out.length)) {
      // No body: an interim response, or the answer to HEAD.
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = text.indexOf('\r\n', at);
        const size = Number.parseInt(text.slice(at, lineEnd), 16);
        at = lineEnd + 2;
        if (size === 0) {
          at += 2;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    } else {
      const length = Number(headers['content-length'] ?? 0);
      body = text.slice(at, at + length);
      at += length;
    }
    out.push({ status, headers, body });
  }
  return out;
}

let dir: string;
let web: ShimProcess;
let lambda: ShimProcess;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-node-http-'));
  await writeFile(path.join(dir, 'web.mjs'), WEB);
  await writeFile(path.join(dir, 'lam.mjs'), LAMBDA);
  web = await ShimProcess.start(path.join(dir, 'web.sock'), { KILN_MAX_BODY_BYTES: String(MAX_BODY) });
  expect((await web.init({ handler: 'web.mjs', codeDir: dir })).status).toBe(200);
  lambda = await ShimProcess.start(path.join(dir, 'lam.sock'));
  expect((await lambda.init({ handler: 'lam.handler', codeDir: dir })).status).toBe(200);
});

afterAll(async () => {
  await web?.stop();
  await lambda?.stop();
  await rm(dir, { recursive: true, force: true });
});

const connect = (shim: ShimProcess) => new RawConnection(shim.socketPath);
const count = (text: string, what: string) => text.split(what).length - 1;

describe('listening', () => {
  it('serves on the listening socket it was given as fd 0 (KILN_LISTEN_FD)', async () => {
    // What the gateway does: bind and listen on a temp path, rename it into place (closing a
    // node server unlinks the path it bound), hand the socket to the child as stdin, close it.
    const temp = path.join(dir, 'fd0.tmp.sock');
    const final = path.join(dir, 'fd0.sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(temp, resolve));
    await rename(temp, final);
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const child = spawn(process.execPath, [SHIM_MAIN], {
      env: { PATH: process.env.PATH, KILN_LISTEN_FD: '0' },
      stdio: [fd, 'ignore', 'inherit'],
    });
    await new Promise((resolve) => server.close(resolve));
    const shim = new ShimProcess(child, final);
    try {
      await shim.ready();
      expect((await shim.call('GET', '/')).status).toBe(503);
      expect((await shim.init({ handler: 'lam.handler', codeDir: dir })).status).toBe(200);
      expect((await shim.call('GET', '/')).text).toBe('hello');
    } finally {
      await shim.stop();
    }
  });
});

describe('HEAD', () => {
  it('is answered with the headers GET would have, and no body', async () => {
    const conn = connect(lambda);
    conn.write('HEAD / HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    const [head, get] = responses(await conn.untilClosed(), [0]);
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head!.headers['content-length']).toBe('5');
    // Had the HEAD answer carried a body, it would have been read as the next response.
    expect(get).toMatchObject({ status: 200, body: 'hello' });
  });

  it('of a streamed response: headers only, the stream stopped, the connection still usable', async () => {
    const conn = connect(web);
    conn.write('HEAD /forever HTTP/1.1\r\nhost: x\r\n\r\n');
    await conn.until((t) => t.includes('\r\n\r\n'));
    conn.write('GET /after HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    const [head, get] = responses(await conn.untilClosed(), [0]);
    expect(head!.status).toBe(200);
    expect(head!.headers).not.toHaveProperty('transfer-encoding');
    expect(get!.body).toBe('GET /after 0 ');
  });
});

describe('Expect: 100-continue', () => {
  it('is answered 100 Continue before the body is sent, then the request as usual', async () => {
    const conn = connect(web);
    conn.write('POST /up HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n');
    const interim = await conn.until((t) => t.includes('\r\n\r\n'));
    expect(interim).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    conn.write('abcde');
    const [, final] = responses(await conn.until((t) => count(t, 'HTTP/1.1') === 2 && t.endsWith('abcde')));
    expect(final).toMatchObject({ status: 200, body: 'POST /up 5 abcde' });
    conn.destroy();
  });

  it('with a body over the limit: 413 at once, never 100', async () => {
    const conn = connect(web);
    conn.write(
      `POST /up HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: ${MAX_BODY + 1}\r\n\r\n`,
    );
    const text = await conn.untilClosed();
    expect(text).not.toContain('100 Continue');
    expect(responses(text)[0]).toMatchObject({ status: 413, headers: { connection: 'close' } });
  });
});

describe('keep-alive and pipelining', () => {
  it('answers pipelined requests in order, a slow first one holding back the later ones', async () => {
    const conn = connect(web);
    conn.write(
      'GET /slow?ms=150 HTTP/1.1\r\nhost: x\r\n\r\n' +
        'POST /second HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc' +
        'GET /third HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    const all = responses(await conn.untilClosed());
    expect(all.map((r) => r.body)).toEqual(['GET /slow 0 ', 'POST /second 3 abc', 'GET /third 0 ']);
    expect(all[2]!.headers.connection).toBe('close');
  });

  it('answers every pipelined request of a client that shut its sending side, then closes', async () => {
    const conn = connect(web);
    conn.write('GET /slow?ms=50 HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n');
    conn.end();
    expect(responses(await conn.untilClosed()).map((r) => r.body)).toEqual(['GET /slow 0 ', 'GET /b 0 ']);
  });

  it('answers an HTTP/1.0 request and closes unless asked to keep alive', async () => {
    const conn = connect(web);
    conn.write('GET /old HTTP/1.0\r\n\r\n');
    expect(responses(await conn.untilClosed())[0]).toMatchObject({
      body: 'GET /old 0 ',
      headers: { connection: 'close' },
    });
    const kept = connect(web);
    kept.write('GET /a HTTP/1.0\r\nconnection: keep-alive\r\n\r\n');
    const text = await kept.until((t) => t.endsWith('GET /a 0 '));
    expect(responses(text)[0]!.headers.connection).toBe('keep-alive');
    kept.destroy();
  });
});

describe('slow clients', () => {
  it('a half-sent head or body on one connection never holds up another', async () => {
    const halfHead = connect(web);
    halfHead.write('GET /late HTTP/1.1\r\nhos');
    const halfBody = connect(web);
    halfBody.write('POST /late-body HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\nabc');
    // Both wait on their clients; everyone else is served meanwhile.
    const client = new Client('http://shim', { socketPath: web.socketPath });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await client.request({ method: 'GET', path: `/other${i}` });
        expect(await res.body.text()).toBe(`GET /other${i} 0 `);
      }
    } finally {
      await client.close();
    }
    expect(halfHead.text).toBe('');
    expect(halfBody.text).toBe('');
    halfHead.write('t: x\r\nconnection: close\r\n\r\n');
    halfBody.write('def');
    expect(responses(await halfHead.untilClosed())[0]!.body).toBe('GET /late 0 ');
    expect(responses(await halfBody.until((t) => t.endsWith('abcdef')))[0]!.body).toBe(
      'POST /late-body 6 abcdef',
    );
    halfBody.destroy();
  });
});

describe('size caps', () => {
  it('a request head over 64 KiB: 431, connection closed', async () => {
    const conn = connect(web);
    conn.write(`GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(65 * 1024)}\r\n\r\n`);
    const text = await conn.untilClosed();
    expect(responses(text)[0]).toMatchObject({
      status: 431,
      headers: { 'x-kiln-error': 'request_head_too_large' },
    });
    expect(conn.closed).toBe(true);
  });

  it('a body over KILN_MAX_BODY_BYTES: 413 (content-length or chunked); at the limit: served', async () => {
    const atLimit = await web.call('POST', '/', 'a'.repeat(MAX_BODY));
    expect(atLimit.text).toBe(`POST / ${MAX_BODY} aaaaaaaaaaaa`);
    const byLength = connect(web);
    byLength.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${MAX_BODY + 1}\r\n\r\n`);
    expect(responses(await byLength.untilClosed())[0]).toMatchObject({
      status: 413,
      headers: { 'x-kiln-error': 'request_too_large' },
    });
    const chunked = connect(web);
    chunked.write('POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
    for (let i = 0; i < 3; i++) chunked.write(`190\r\n${'b'.repeat(400)}\r\n`);
    expect(responses(await chunked.untilClosed())[0]!.status).toBe(413);
  });
});

describe('chunked request bodies', () => {
  it('are decoded (extensions and trailers dropped) and the connection stays usable', async () => {
    const conn = connect(web);
    conn.write('PUT /c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n4;name=v\r\nWiki\r\n');
    conn.write('5\r\npedia\r\n0\r\nx-checksum: 1\r\n\r\n');
    conn.write('GET /next HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    expect(responses(await conn.untilClosed()).map((r) => r.body)).toEqual([
      'PUT /c 9 Wikipedia',
      'GET /next 0 ',
    ]);
  });

  it('through a client library too (undici sends a stream body chunked)', async () => {
    const client = new Client('http://shim', { socketPath: web.socketPath });
    try {
      const body = Readable.from([Buffer.from('one-'), Buffer.from('two')]);
      const res = await client.request({ method: 'POST', path: '/lib', body });
      expect(await res.body.text()).toBe('POST /lib 7 one-two');
    } finally {
      await client.close();
    }
  });
});

describe('malformed requests', () => {
  it.each([
    ['a request line that is not HTTP', 'HELLO\r\n\r\n'],
    ['a header line without a colon', 'GET / HTTP/1.1\r\nhost x\r\n\r\n'],
    [
      'both content-length and transfer-encoding',
      'POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n',
    ],
    ['a malformed chunk size', 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'],
    ['a malformed content-length', 'POST / HTTP/1.1\r\ncontent-length: 1e3\r\n\r\n'],
  ])('%s: 400 and the connection closed', async (_name, bytes) => {
    const conn = connect(web);
    conn.write(`${bytes}GET /never HTTP/1.1\r\n\r\n`);
    const text = await conn.untilClosed();
    const all = responses(text);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({
      status: 400,
      headers: { 'x-kiln-error': 'bad_request', connection: 'close' },
    });
    expect(text).not.toContain('/never');
  });

  it('an answer to an earlier request on the connection is still sent first', async () => {
    const conn = connect(web);
    conn.write('GET /slow?ms=50 HTTP/1.1\r\nhost: x\r\n\r\nBROKEN\r\n\r\n');
    const all = responses(await conn.untilClosed());
    expect(all.map((r) => r.status)).toEqual([200, 400]);
  });
});
