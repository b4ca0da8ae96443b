import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, type ResponseSink, ShimClient, type ShimClientError } from './shim-client.js';

/**
 * The shim client against raw servers on unix sockets that write exactly the bytes a test
 * names: every framing a shim may use, split at awkward places, and the ways a connection
 * can go wrong. The client's behaviour with the real shims is in test/integration/invoke-http.test.ts.
 */
let dir: string;
let servers: net.Server[] = [];
let sockets: net.Socket[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'shim-client-'));
});
afterEach(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  servers = [];
  sockets = [];
  await rm(dir, { recursive: true, force: true });
});

interface Seen {
  heads: string[];
  bodies: Buffer[];
  connections: number;
}

/** A server that reads each request (head, then `content-length` or chunked body) and answers with `answer(head)` pieces. */
async function rawServer(
  answer: (head: string, socket: net.Socket, body: Buffer) => void,
): Promise<{ socketPath: string; seen: Seen }> {
  const socketPath = path.join(dir, `s${servers.length}.sock`);
  const seen: Seen = { heads: [], bodies: [], connections: 0 };
  const server = net.createServer((socket) => {
    sockets.push(socket);
    seen.connections++;
    let buffer = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buffer = Buffer.concat([buffer, d]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        const length = /content-length: (\d+)/i.exec(head);
        let body: Buffer;
        let used: number;
        if (length) {
          if (buffer.length < end + 4 + Number(length[1])) return;
          body = buffer.subarray(end + 4, end + 4 + Number(length[1]));
          used = end + 4 + body.length;
        } else if (/transfer-encoding: chunked/i.test(head)) {
          const last = buffer.indexOf('\r\n0\r\n\r\n', end);
          if (last < 0) return;
          body = dechunk(buffer.subarray(end + 4, last + 7));
          used = last + 7;
        } else {
          body = Buffer.alloc(0);
          used = end + 4;
        }
        buffer = buffer.subarray(used);
        seen.heads.push(head);
        seen.bodies.push(body);
        answer(head, socket, body);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(socketPath, r));
  return { socketPath, seen };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    const size = Number.parseInt(data.subarray(at, eol).toString(), 16);
    if (size === 0) return Buffer.concat(out);
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

const get = { method: 'GET', path: '/x', headers: ['host', 'localhost'] };
const none = { kind: 'none' } as const;

/** A sink that records what it hears, in order. */
function recorder() {
  const events: string[] = [];
  let body = '';
  const sink: ResponseSink = {
    onHead(status, headers, length, whole) {
      events.push(`head ${status} ${headers.join('=')} ${length ?? '-'}`);
      if (whole) body += whole.toString();
    },
    onData(chunk) {
      events.push('data');
      body += chunk.toString();
      return true;
    },
    onEnd() {
      events.push('end');
    },
  };
  return { sink, events, body: () => body };
}

describe('ShimClient', () => {
  it('reads a content-length answer and reuses the connection for the next request', async () => {
    const { socketPath, seen } = await rawServer((_h, s) =>
      s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello'),
    );
    const client = new ShimClient(socketPath, 4);
    for (let i = 0; i < 3; i++) {
      const r = await collect(client, get, none, 5000);
      expect(r.status).toBe(200);
      expect(r.headers).toEqual(['content-type', 'text/plain']);
      expect(r.body.toString()).toBe('hello');
    }
    expect(seen.connections).toBe(1);
    client.destroy();
  });

  it('decodes a chunked answer split one byte at a time, trailers dropped', async () => {
    const wire =
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n5;x=y\r\ndefgh\r\n0\r\nx-t: 1\r\n\r\n';
    const { socketPath, seen } = await rawServer((_h, s) => {
      s.cork();
      for (const ch of wire) s.write(ch);
      s.uncork();
    });
    const client = new ShimClient(socketPath, 1);
    const slow = await rawServer(async (_h, s) => {
      for (const ch of wire) {
        s.write(ch);
        await new Promise((r) => setImmediate(r));
      }
    });
    const slowClient = new ShimClient(slow.socketPath, 1);
    for (const c of [client, slowClient, client, slowClient]) {
      const r = await collect(c, get, none, 5000);
      expect(r.body.toString()).toBe('abcdefgh');
      expect(r.headers).toEqual([]);
    }
    expect(seen.connections).toBe(1);
    expect(slow.seen.connections).toBe(1);
    client.destroy();
    slowClient.destroy();
  });

  it('hands body chunks to the sink as they arrive, before the response ends', async () => {
    let socket: net.Socket | undefined;
    const { socketPath } = await rawServer((_h, s) => {
      socket = s;
      s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n');
    });
    const client = new ShimClient(socketPath, 1);
    const { events } = recorder();
    let firstChunk: () => void = () => undefined;
    const gotFirst = new Promise<void>((r) => {
      firstChunk = r;
    });
    const call = client.request(
      get,
      none,
      {
        onHead: (status) => events.push(`head ${status}`),
        onData: (c) => {
          events.push(c.toString());
          firstChunk();
          return true;
        },
        onEnd: () => events.push('end'),
      },
      5000,
    );
    await gotFirst;
    expect(events).toEqual(['head 200', 'first']);
    socket?.write('6\r\nsecond\r\n0\r\n\r\n');
    await call.done;
    expect(events).toEqual(['head 200', 'first', 'second', 'end']);
    client.destroy();
  });

  it('expects no body after HEAD, 204 and 304, and skips 100 Continue', async () => {
    const { socketPath, seen } = await rawServer((head, s) => {
      if (head.startsWith('HEAD')) s.write('HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n');
      else if (head.includes('/204')) s.write('HTTP/1.1 204 No Content\r\n\r\n');
      else s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok');
    });
    const client = new ShimClient(socketPath, 1);
    const head = await collect(client, { ...get, method: 'HEAD' }, none, 5000);
    expect(head.status).toBe(200);
    expect(head.headers).toEqual([]);
    expect(head.body.length).toBe(0);
    expect((await collect(client, { ...get, path: '/204' }, none, 5000)).status).toBe(204);
    const created = await collect(client, get, none, 5000);
    expect([created.status, created.body.toString()]).toEqual([201, 'ok']);
    expect(seen.connections).toBe(1);
    client.destroy();
  });

  it('reads a body that ends with the connection, and does not reuse that connection', async () => {
    const { socketPath, seen } = await rawServer((_h, s) => {
      s.write('HTTP/1.1 200 OK\r\n\r\nuntil close');
      s.end();
    });
    const client = new ShimClient(socketPath, 1);
    expect((await collect(client, get, none, 5000)).body.toString()).toBe('until close');
    expect((await collect(client, get, none, 5000)).body.toString()).toBe('until close');
    expect(seen.connections).toBe(2);
    client.destroy();
  });

  it('streams a request body of unknown length chunked, and one of known length as is', async () => {
    const { socketPath, seen } = await rawServer((_h, s, body) =>
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${String(body.length).length}\r\n\r\n${body.length}`),
    );
    const client = new ShimClient(socketPath, 1);
    const stream = new PassThrough();
    const answer = collect(
      client,
      { ...get, method: 'POST' },
      { kind: 'stream', stream, length: undefined, limit: 1 << 20 },
      5000,
    );
    for (let i = 0; i < 64; i++) stream.write(Buffer.alloc(1000, 97));
    stream.end();
    expect((await answer).body.toString()).toBe('64000');
    expect(seen.heads[0]).toMatch(/transfer-encoding: chunked/);
    const known = new PassThrough();
    const second = collect(
      client,
      { ...get, method: 'PUT' },
      { kind: 'stream', stream: known, length: 3, limit: 3 },
      5000,
    );
    known.end('abc');
    expect((await second).body.toString()).toBe('3');
    expect(seen.heads[1]).toMatch(/content-length: 3/);
    expect(seen.connections).toBe(1);
    client.destroy();
  });

  it('fails a streamed body past its limit with body_too_large', async () => {
    const { socketPath } = await rawServer((_h, s) =>
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'),
    );
    const client = new ShimClient(socketPath, 1);
    const stream = new PassThrough();
    const answer = collect(
      client,
      { ...get, method: 'POST' },
      { kind: 'stream', stream, length: undefined, limit: 1000 },
      5000,
    );
    stream.write(Buffer.alloc(600));
    stream.write(Buffer.alloc(600));
    await expect(answer).rejects.toMatchObject({ reason: 'body_too_large' });
    client.destroy();
  });

  it('names a broken connection, a silent shim and garbage by their reasons', async () => {
    const broken = await rawServer((_h, s) => s.destroy());
    const silent = await rawServer(() => undefined);
    const garbage = await rawServer((_h, s) => s.write('SSH-2.0-OpenSSH\r\n\r\n'));
    const reason = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: ShimClientError) => e.reason,
      );
    expect(await reason(collect(new ShimClient(broken.socketPath, 1), get, none, 5000))).toBe(
      'connection_lost',
    );
    expect(await reason(collect(new ShimClient(silent.socketPath, 1), get, none, 50))).toBe('timeout');
    expect(await reason(collect(new ShimClient(garbage.socketPath, 1), get, none, 5000))).toBe(
      'bad_response',
    );
    expect(await reason(collect(new ShimClient(path.join(dir, 'absent.sock'), 1), get, none, 5000))).toBe(
      'connection_lost',
    );
  });

  it('runs at most maxConnections requests at once, the rest waiting for a free connection', async () => {
    const held: net.Socket[] = [];
    const { socketPath, seen } = await rawServer((_h, s) => held.push(s));
    const client = new ShimClient(socketPath, 2);
    const answers = [1, 2, 3].map(() => collect(client, get, none, 5000));
    while (seen.heads.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(seen.connections).toBe(2);
    for (const s of held.splice(0)) s.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na');
    while (held.length < 1) await new Promise((r) => setTimeout(r, 5));
    held[0]?.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb');
    expect((await Promise.all(answers)).map((r) => r.body.toString())).toEqual(['a', 'a', 'b']);
    expect(seen.connections).toBe(2);
    client.destroy();
  });

  it('abort() closes the connection and the next request gets a fresh one', async () => {
    const { socketPath, seen } = await rawServer((head, s) => {
      if (head.includes('/hang')) return;
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const client = new ShimClient(socketPath, 1);
    const { sink } = recorder();
    const call = client.request({ ...get, path: '/hang' }, none, sink, 5000);
    while (seen.heads.length < 1) await new Promise((r) => setTimeout(r, 5));
    call.abort();
    await expect(call.done).rejects.toMatchObject({ reason: 'aborted' });
    expect((await collect(client, get, none, 5000)).body.toString()).toBe('ok');
    expect(seen.connections).toBe(2);
    client.destroy();
  });
});
