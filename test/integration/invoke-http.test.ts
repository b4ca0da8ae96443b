import { createHash } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Issue 9: ordinary HTTP clients through the invoke path. Each behaviour that used to answer
 * 502 function_crashed and destroy the warm instance (Expect, chunked bodies, hop-by-hop
 * headers, a malformed escape) gets its right answer, and the warm instance survives it:
 * the same `x-kiln-instance` answers before and after. Streamed answers reach the client
 * as they are produced.
 */
let t: TestGateway;
let host: string;
let port: number;

beforeAll(async () => {
  t = await startTestGateway();
  const url = new URL(t.url);
  host = url.hostname;
  port = Number(url.port);
  const deployed = await deployDir(t.url, path.join(FIXTURES, 'http-client'), {
    name: 'client',
    runtime: 'node',
    maxInstances: '1',
    concurrency: '4',
  });
  expect(deployed.status).toBe(201);
});
afterAll(() => t?.close());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a fresh connection; `send` writes the body (or nothing). */
function request(
  options: http.RequestOptions,
  send: (req: http.ClientRequest) => void = (req) => req.end(),
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    send(req);
  });
}

async function warmInstance(): Promise<string> {
  const res = await request({ path: '/fn/client/' });
  expect(res.status).toBe(200);
  return String(res.headers['x-kiln-instance']);
}

function json(answer: Answer): {
  bytes: number;
  sha256: string;
  method: string;
  headers: Record<string, string>;
} {
  return JSON.parse(answer.body.toString());
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('clients the invoke path serves', () => {
  it('Expect: 100-continue is answered by the gateway, and the body arrives whole', async () => {
    const before = await warmInstance();
    const body = Buffer.alloc(2 * 1024 * 1024, 7);
    let continued = false;
    const res = await request(
      {
        method: 'POST',
        path: '/fn/client/echo',
        headers: { expect: '100-continue', 'content-length': String(body.length) },
      },
      (req) => {
        req.on('continue', () => {
          continued = true;
          req.end(body);
        });
      },
    );
    expect(continued).toBe(true);
    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({ bytes: body.length, sha256: sha256(body) });
    expect(json(res).headers.expect).toBeUndefined();
    expect(res.headers['x-kiln-instance']).toBe(before);
    expect(await warmInstance()).toBe(before);
  });

  it('Expect: 100-continue with a declared length over the cap is refused with 413 before the body', async () => {
    const before = await warmInstance();
    let continued = false;
    const res = await request(
      {
        method: 'POST',
        path: '/fn/client/echo',
        headers: { expect: '100-continue', 'content-length': String(64 * 1024 * 1024) },
      },
      (req) => {
        req.on('continue', () => {
          continued = true;
        });
        req.flushHeaders();
      },
    );
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body.toString()).error.code).toBe('request_too_large');
    expect(continued).toBe(false);
    expect(await warmInstance()).toBe(before);
  });

  it('a 2 MB chunked upload streams to the function whole', async () => {
    const before = await warmInstance();
    const parts = Array.from({ length: 32 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const res = await request({ method: 'POST', path: '/fn/client/echo' }, (req) => {
      for (const p of parts) req.write(p);
      req.end();
    });
    expect(res.status).toBe(200);
    const whole = Buffer.concat(parts);
    expect(json(res)).toMatchObject({ method: 'POST', bytes: whole.length, sha256: sha256(whole) });
    expect(res.headers['x-kiln-instance']).toBe(before);
    expect(await warmInstance()).toBe(before);
  });

  it('a chunked upload past the 6 MiB cap is answered 413 as it passes it, and the instance stays', async () => {
    const before = await warmInstance();
    const res = await request({ method: 'POST', path: '/fn/client/echo' }, (req) => {
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(1024 * 1024, 1));
      req.end();
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body.toString()).error.code).toBe('request_too_large');
    expect(await warmInstance()).toBe(before);
  });

  it('hop-by-hop headers (Connection: keep-alive, Upgrade, …) and x-kiln-* never reach the function', async () => {
    const before = await warmInstance();
    const res = await request(
      {
        method: 'POST',
        path: '/fn/client/echo',
        headers: {
          connection: 'keep-alive, Upgrade, X-Hop',
          'keep-alive': 'timeout=5, max=100',
          upgrade: 'h2c',
          te: 'trailers',
          'x-hop': 'dropped',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          'x-kiln-invoke': 'raw',
          'x-kiln-request-id': 'forged',
          'x-kiln-deadline': '1',
          'x-custom': 'kept',
          'content-length': '2',
        },
      },
      (req) => req.end('{}'),
    );
    expect(res.status).toBe(200);
    const seen = json(res);
    // A raw invoke would have answered the handler's output, not this HTTP echo.
    expect(seen.bytes).toBe(2);
    const names = Object.keys(seen.headers);
    for (const hop of [
      'keep-alive',
      'upgrade',
      'te',
      'x-hop',
      'proxy-authorization',
      'x-kiln-invoke',
      'x-kiln-deadline',
    ]) {
      expect(names, hop).not.toContain(hop);
    }
    expect(seen.headers['x-custom']).toBe('kept');
    expect(res.headers['x-kiln-request-id']).not.toBe('forged');
    expect(res.headers['x-kiln-instance']).toBe(before);
    expect(await warmInstance()).toBe(before);
  });

  it('HEAD answers the head a GET would, without a body', async () => {
    const before = await warmInstance();
    const get = await request({ path: '/fn/client/' });
    const head = await request({ method: 'HEAD', path: '/fn/client/' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers['content-type']).toBe('text/plain');
    expect(head.headers['x-kiln-instance']).toBe(before);
    expect(await warmInstance()).toBe(before);
  });

  it('a malformed escape in the path is 400 invalid_path', async () => {
    const before = await warmInstance();
    for (const p of ['/fn/%E0%A4%A/', '/fn/client/%zz']) {
      const res = await request({ path: p });
      expect(res.status, p).toBe(400);
      expect(JSON.parse(res.body.toString()).error.code).toBe('invalid_path');
    }
    expect(await warmInstance()).toBe(before);
  });

  it("the gateway's own headers cannot be forged by the function", async () => {
    const res = await request({ path: '/fn/client/' });
    expect(res.headers['x-kiln-start']).toBe('warm');
    expect(res.headers['server-timing']).toMatch(/fn;dur=/);
  });
});

describe('streamed answers', () => {
  it('reach the client chunk by chunk: the first arrives before the handler finishes', async () => {
    const order: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = http.request({ host, port, path: '/fn/client/stream', agent: false }, (res) => {
        order.push(`head ${res.statusCode} ${res.headers['transfer-encoding']}`);
        res.on('data', (chunk: Buffer) => {
          order.push(`chunk ${chunk.toString().trim()}`);
          // The handler cannot finish before this: its second chunk waits for /release.
          if (chunk.toString().includes('first')) {
            void request({ path: '/fn/client/release' }).then(() => order.push('released'), reject);
          }
        });
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    await done;
    expect(order.filter((e) => e !== 'released')).toEqual([
      'head 200 chunked',
      'chunk first',
      'chunk second',
    ]);
  });

  it('a client that goes away mid-stream cuts the upstream request off; the instance serves on', async () => {
    const before = await warmInstance();
    await new Promise<void>((resolve) => {
      const req = http.request({ host, port, path: '/fn/client/stream', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.end();
    });
    // The cut stream's handler still waits for its release; free it for the next test.
    await request({ path: '/fn/client/release' });
    expect(await warmInstance()).toBe(before);
  });
});
