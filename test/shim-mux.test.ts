// The gateway's multiplexed connection to the node shim (src/pool/mux-client.ts ↔
// runtimes/node/mux-server.mjs), end to end against the real shim process: many requests
// at once on one socket, bodies both ways, HEAD, flow control, cancel and reset.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MuxClient } from '../src/pool/mux-client.js';
import {
  END,
  FrameReader,
  FrameType,
  frame,
  headPayload,
  MAX_CHUNK,
  PREFACE,
  splitHeadPayload,
  WINDOW,
} from '../src/pool/mux-frames.js';
import type { RequestBody, ShimCall, ShimClientError } from '../src/pool/shim-client.js';
import { ShimProcess } from './shim-process.js';

const HANDLER = `
const sha = async (req) => {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(new Uint8Array(await req.arrayBuffer())).digest('hex');
};
let forever = 'not started';
export default {
  async fetch(req) {
    const url = new URL(req.url);
    switch (url.pathname) {
      case '/echo':
        return new Response(req.method + ' ' + url.pathname + url.search, { headers: { 'x-id': req.headers.get('x-id') ?? '' } });
      case '/sha':
        return new Response(await sha(req));
      case '/big':
        return new Response('a'.repeat(Number(url.searchParams.get('n'))));
      case '/stream': {
        let left = Number(url.searchParams.get('chunks'));
        return new Response(new ReadableStream({
          async pull(c) {
            await new Promise((r) => setImmediate(r));
            if (left-- > 0) c.enqueue(new Uint8Array(${MAX_CHUNK}).fill(98));
            else c.close();
          },
        }));
      }
      case '/forever':
        forever = 'running';
        return new Response(new ReadableStream({
          async pull(c) { await new Promise((r) => setTimeout(r, 5)); c.enqueue(new Uint8Array(10)); },
          cancel() { forever = 'cancelled'; },
        }));
      case '/length':
        return new Response(String(req.headers.get('content-length')));
      case '/big-header':
        return new Response('x', { headers: { 'x-big': 'b'.repeat(100 * 1024) } });
      case '/forever-state':
        return new Response(forever);
      case '/fail-mid':
        return new Response(new ReadableStream({
          async pull(c) {
            await new Promise((r) => setTimeout(r, 5));
            if (this.sent) throw new Error('broke mid-stream');
            this.sent = true;
            c.enqueue(new Uint8Array(10));
          },
        }));
    }
    return new Response('no route', { status: 404 });
  },
};
`;

interface Answer {
  status: number;
  headers: string[];
  contentLength: number | undefined;
  body: Buffer;
}

/** One request on the connection; `pauseAfter` makes the sink refuse more after that many bytes. */
function send(
  client: MuxClient,
  method: string,
  p: string,
  opts: { headers?: string[]; body?: RequestBody; pauseAfter?: number; timeoutMs?: number } = {},
): { call: ShimCall; answer: Promise<Answer>; received: () => number } {
  let status = 0;
  let headers: string[] = [];
  let contentLength: number | undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  const call = client.request(
    { method, path: p, headers: ['host', 'localhost', ...(opts.headers ?? [])] },
    opts.body ?? { kind: 'none' },
    {
      onHead(s, h, length, whole) {
        status = s;
        headers = h;
        contentLength = length;
        if (whole) {
          chunks.push(whole);
          size += whole.length;
        }
      },
      onData(chunk) {
        chunks.push(chunk);
        size += chunk.length;
        return opts.pauseAfter === undefined || size < opts.pauseAfter;
      },
      onEnd() {},
    },
    opts.timeoutMs ?? 10_000,
  );
  const answer = call.done.then(() => ({ status, headers, contentLength, body: Buffer.concat(chunks) }));
  return { call, answer, received: () => size };
}

const header = (a: Answer, name: string) => a.headers[a.headers.indexOf(name) + 1];

describe('the multiplexed connection to the node shim', () => {
  let dir: string;
  let shim: ShimProcess;
  let client: MuxClient;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kiln-mux-'));
    await writeFile(path.join(dir, 'web.mjs'), HANDLER);
    shim = await ShimProcess.start(path.join(dir, 'shim.sock'), { KILN_MAX_BODY_BYTES: String(4 << 20) });
    const init = await shim.init({ handler: 'web.mjs', codeDir: dir, concurrency: 64 });
    expect(init.status).toBe(200);
    // The shim offers the connection only where the gateway may use it (`/init`'s answer).
    expect(JSON.parse(init.text).transports).toEqual(['mux/1']);
    client = new MuxClient(shim.socketPath);
  });

  afterAll(async () => {
    client?.destroy();
    await shim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs many requests at once on one socket, each answer on its own stream', async () => {
    const calls = Array.from({ length: 200 }, (_, i) =>
      send(client, i % 2 ? 'POST' : 'GET', `/echo?i=${i}`, { headers: ['x-id', `r${i}`] }),
    );
    const answers = await Promise.all(calls.map((c) => c.answer));
    answers.forEach((a, i) => {
      expect(a.status).toBe(200);
      expect(a.body.toString()).toBe(`${i % 2 ? 'POST' : 'GET'} /echo?i=${i}`);
      expect(header(a, 'x-id')).toBe(`r${i}`);
      expect(a.contentLength).toBe(a.body.length);
    });
  });

  it('answers HEAD with the length a GET would have and no body', async () => {
    const a = await send(client, 'HEAD', '/big?n=12345').answer;
    expect(a).toMatchObject({ status: 200, contentLength: 12345 });
    expect(a.body.length).toBe(0);
  });

  it('streams a request body in and a whole body larger than a frame out', async () => {
    const body = Buffer.alloc(3 << 20, 7);
    const up = await send(client, 'POST', '/sha', {
      headers: ['content-type', 'application/octet-stream'],
      body: {
        kind: 'stream',
        stream: Readable.from([body.subarray(0, 1000), body.subarray(1000)]),
        length: body.length,
        limit: 8 << 20,
      },
    }).answer;
    expect(up.body.toString()).toBe(createHash('sha256').update(body).digest('hex'));
    const unknownLength = await send(client, 'POST', '/sha', {
      body: { kind: 'stream', stream: Readable.from([body]), length: undefined, limit: 8 << 20 },
    }).answer;
    expect(unknownLength.body.toString()).toBe(up.body.toString());
    const down = await send(client, 'GET', `/big?n=${5 * MAX_CHUNK + 3}`).answer;
    expect(down.body.length).toBe(5 * MAX_CHUNK + 3);
    expect(down.contentLength).toBe(5 * MAX_CHUNK + 3);
  });

  it("gives the function the body's content-length, as HTTP framing did", async () => {
    const text = async (method: string, body?: RequestBody) =>
      (await send(client, method, '/length', { body }).answer).body.toString();
    expect(await text('POST', { kind: 'bytes', bytes: Buffer.from('12345') })).toBe('5');
    expect(await text('POST', { kind: 'bytes', bytes: Buffer.alloc(0) })).toBe('0');
    expect(
      await text('POST', {
        kind: 'stream',
        stream: Readable.from([Buffer.alloc(70_000)]),
        length: undefined,
        limit: 1 << 20,
      }),
    ).toBe('70000');
    expect(await text('GET')).toBe('null');
  });

  it('fails only the request whose headers are too large for a frame', async () => {
    const big = send(client, 'GET', '/big-header');
    const fine = send(client, 'GET', '/echo');
    expect((await big.answer).status).toBe(500);
    expect((await fine.answer).status).toBe(200);
    expect((await send(client, 'GET', '/echo').answer).status).toBe(200);
  });

  it('refuses a body past the shim cap with 413 and keeps serving on the connection', async () => {
    const tooBig = await send(client, 'POST', '/sha', {
      body: { kind: 'bytes', bytes: Buffer.alloc((4 << 20) + 1) },
    }).answer;
    expect(tooBig.status).toBe(413);
    expect(header(tooBig, 'x-kiln-error')).toBe('request_too_large');
    expect((await send(client, 'GET', '/echo').answer).status).toBe(200);
  });

  it('holds a stream at its window while the client cannot take more, then delivers the rest', async () => {
    const chunks = 4 * (WINDOW / MAX_CHUNK) + 3;
    const s = send(client, 'GET', `/stream?chunks=${chunks}`, { pauseAfter: MAX_CHUNK });
    // The shim may run ahead of the client by one window, not more.
    for (let i = 0; i < 100 && s.received() < WINDOW; i++) await sleep(10);
    await sleep(100);
    expect(s.received()).toBeGreaterThan(0);
    expect(s.received()).toBeLessThanOrEqual(WINDOW + MAX_CHUNK);
    // Other streams go on meanwhile.
    expect((await send(client, 'GET', '/echo').answer).status).toBe(200);
    const resumer = setInterval(() => s.call.resume(), 5);
    const a = await s.answer.finally(() => clearInterval(resumer));
    expect(a.body.length).toBe(chunks * MAX_CHUNK);
    expect(a.contentLength).toBeUndefined();
  });

  it("cancels the handler's stream when the gateway gives up on it", async () => {
    const s = send(client, 'GET', '/forever');
    for (let i = 0; i < 200 && s.received() === 0; i++) await sleep(10);
    s.call.abort();
    await expect(s.answer).rejects.toMatchObject({ reason: 'aborted' });
    let state = '';
    for (let i = 0; i < 200 && state !== 'cancelled'; i++) {
      state = (await send(client, 'GET', '/forever-state').answer).body.toString();
      if (state !== 'cancelled') await sleep(10);
    }
    expect(state).toBe('cancelled');
  });

  it('fails only the request whose handler broke mid-stream', async () => {
    const broken = send(client, 'GET', '/fail-mid');
    const fine = send(client, 'GET', '/echo');
    const err = (await broken.answer.catch((e: unknown) => e)) as ShimClientError;
    expect(err.reason).toBe('reset');
    expect(broken.received()).toBe(10);
    expect((await fine.answer).status).toBe(200);
  });

  it('destroy fails the requests in flight and every later one with connection_lost', async () => {
    const own = new MuxClient(shim.socketPath);
    const s = send(own, 'GET', '/forever');
    for (let i = 0; i < 200 && s.received() === 0; i++) await sleep(10);
    own.destroy();
    await expect(s.answer).rejects.toMatchObject({ reason: 'connection_lost' });
    await expect(send(own, 'GET', '/echo').answer).rejects.toMatchObject({ reason: 'connection_lost' });
  });
});

/**
 * A shim that breaks the protocol (a function's code can write to its own socket): per
 * request path, `/flood` streams DATA without waiting for credit, `/bad` sends an unknown
 * frame type, anything else answers 200 at once.
 */
async function hostileShim(socketPath: string): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let seenPreface = false;
    const reader = new FrameReader((type, _flags, id, payload) => {
      if (type !== FrameType.request) return;
      const path = splitHeadPayload(payload)!.text.split('\n')[1];
      const write = (buffers: Buffer[]) => socket.write(Buffer.concat(buffers));
      if (path === '/flood') {
        write(frame(FrameType.head, 0, id, headPayload('200\n')));
        const chunk = Buffer.alloc(MAX_CHUNK, 1);
        const flood = () => {
          for (let i = 0; i < 16 && !socket.destroyed; i++) write(frame(FrameType.data, 0, id, [chunk]));
          if (!socket.destroyed) setImmediate(flood);
        };
        flood();
      } else if (path === '/bad') {
        write(frame(99, 0, id));
      } else {
        write(frame(FrameType.head, END, id, headPayload('200\n2', Buffer.from('ok'))));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (!seenPreface) {
        seenPreface = true;
        chunk = chunk.subarray(PREFACE.length);
      }
      reader.push(chunk);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}

describe('a shim that breaks the multiplexed protocol', () => {
  let dir: string;
  let server: net.Server;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kiln-mux-hostile-'));
    server = await hostileShim(path.join(dir, 'shim.sock'));
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('cannot make the gateway hold more than a window of a response its client does not take', async () => {
    const client = new MuxClient(path.join(dir, 'shim.sock'));
    try {
      const flood = send(client, 'GET', '/flood', { pauseAfter: 1 });
      const err = (await flood.answer.catch((e: unknown) => e)) as ShimClientError;
      expect(err.reason).toBe('bad_response');
      expect(err.message).toMatch(/window/);
      expect(flood.received()).toBeLessThanOrEqual(WINDOW + 2 * MAX_CHUNK);
    } finally {
      client.destroy();
    }
  });

  it('fails only the requests on a connection it broke, not those on the next one', async () => {
    const client = new MuxClient(path.join(dir, 'shim.sock'));
    try {
      const bad = send(client, 'GET', '/bad');
      await expect(bad.answer).rejects.toMatchObject({ reason: 'bad_response' });
      // Sent before the broken socket's close event comes round.
      const next = send(client, 'GET', '/ok');
      expect((await next.answer).body.toString()).toBe('ok');
    } finally {
      client.destroy();
    }
  });
});
