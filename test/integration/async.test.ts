import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

const PROBE = path.join(FIXTURES, 'async-probe');

interface View {
  id: string;
  state: string;
  attempts: { number: number; status?: number; error?: { code: string } }[];
  result?: { status: number; body: { encoding: string; data: string } };
  callback?: { state: string; attempts: number; lastError?: string };
}

async function submit(url: string, name: string, sub: string, init: RequestInit = {}) {
  return fetch(`${url}/async/${name}${sub}`, { method: 'POST', ...init });
}

async function view(url: string, id: string): Promise<View> {
  return (await (await fetch(`${url}/async/${id}`)).json()) as View;
}

/** Wait until the invocation is finished (a condition wait, not a timed assertion). */
async function finished(url: string, id: string): Promise<View> {
  return vi.waitFor(
    async () => {
      const v = await view(url, id);
      if (!['succeeded', 'failed', 'dead'].includes(v.state)) throw new Error(`still ${v.state}`);
      return v;
    },
    { timeout: 60_000, interval: 50 },
  );
}

describe('async invocations', () => {
  let t: TestGateway;

  beforeAll(async () => {
    // Retries come quickly in tests: 20 ms, 40 ms, ...
    vi.stubEnv('KILN_ASYNC_BACKOFF_MS', '20');
    t = await startTestGateway();
    const res = await deployDir(t.url, PROBE, { asyncRetries: '2', maxInstances: '2' });
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await t?.close();
  });

  it('answers 202 with an id and a Location, then the result', async () => {
    const res = await submit(t.url, 'async-probe', '/echo?x=1', { body: 'hello' });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect(res.headers.get('location')).toBe(`/async/${id}`);
    const done = await finished(t.url, id);
    expect(done.state).toBe('succeeded');
    expect(done.attempts).toHaveLength(1);
    expect(done.result?.status).toBe(200);
    expect(done.result?.body).toEqual({ encoding: 'utf8', data: 'echo hello' });
  });

  it('retries a 5xx with the same invocation id, then succeeds', async () => {
    const { id } = (await (await submit(t.url, 'async-probe', '/flaky')).json()) as { id: string };
    const done = await finished(t.url, id);
    expect(done.state).toBe('succeeded');
    expect(done.attempts.map((a) => a.status)).toEqual([503, 200]);
    const logs = await (await fetch(`${t.url}/functions/async-probe/logs?format=text`)).text();
    expect(logs).toContain(`attempt ${id} /flaky #1`);
    expect(logs).toContain(`attempt ${id} /flaky #2`);
  });

  it('does not retry a 4xx', async () => {
    const { id } = (await (await submit(t.url, 'async-probe', '/bad')).json()) as { id: string };
    const done = await finished(t.url, id);
    expect(done.state).toBe('failed');
    expect(done.attempts).toHaveLength(1);
    expect(done.result?.status).toBe(400);
  });

  it('retries crashes until dead, lists it as dead, and re-drives it', async () => {
    const { id } = (await (await submit(t.url, 'async-probe', '/crash')).json()) as { id: string };
    const done = await finished(t.url, id);
    expect(done.state).toBe('dead');
    expect(done.attempts.map((a) => a.error?.code)).toEqual([
      'function_crashed',
      'function_crashed',
      'function_crashed',
    ]);
    const dead = (await (await fetch(`${t.url}/async?state=dead`)).json()) as {
      invocations: { id: string }[];
    };
    expect(dead.invocations.map((i) => i.id)).toContain(id);

    const again = await fetch(`${t.url}/async/${id}/retry`, { method: 'POST' });
    expect(again.status).toBe(202);
    const redriven = await finished(t.url, id);
    expect(redriven.state).toBe('dead');
    expect(redriven.attempts).toHaveLength(6);
  });

  it('POSTs the result to x-callback-url', async () => {
    const received: { id: string | undefined; body: View }[] = [];
    let refuse = 1;
    const server = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (d: Buffer) => {
        text += d.toString();
      });
      req.on('end', () => {
        // The first delivery is refused: the callback is retried.
        if (refuse-- > 0) {
          res.writeHead(503).end();
          return;
        }
        received.push({ id: req.headers['x-kiln-invocation-id'] as string, body: JSON.parse(text) as View });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const res = await submit(t.url, 'async-probe', '/echo', {
        body: 'called back',
        headers: { 'x-callback-url': `http://127.0.0.1:${port}/hook` },
      });
      const { id } = (await res.json()) as { id: string };
      const done = await vi.waitFor(
        async () => {
          const v = await view(t.url, id);
          if (v.callback?.state !== 'delivered') throw new Error(`callback ${v.callback?.state}`);
          return v;
        },
        { timeout: 30_000, interval: 50 },
      );
      expect(done.callback?.attempts).toBe(2);
      expect(received).toHaveLength(1);
      expect(received[0]!.id).toBe(id);
      expect(received[0]!.body.state).toBe('succeeded');
      expect(received[0]!.body.result?.body.data).toBe('echo called back');
    } finally {
      server.close();
    }
  });

  it('records a callback that cannot be delivered as failed, with why', async () => {
    // A port nothing listens on: every try is refused.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const res = await submit(t.url, 'async-probe', '/echo', {
      headers: { 'x-callback-url': `http://127.0.0.1:${port}/hook` },
    });
    const { id } = (await res.json()) as { id: string };
    const done = await vi.waitFor(
      async () => {
        const v = await view(t.url, id);
        if (v.callback?.state === 'pending') throw new Error('callback pending');
        return v;
      },
      { timeout: 30_000, interval: 50 },
    );
    expect(done.state).toBe('succeeded');
    expect(done.callback).toMatchObject({ state: 'failed', attempts: 5 });
    expect(done.callback?.lastError).toMatch(/ECONNREFUSED/);
  });

  it('works from the CLI: invoke --async, async get, async ls --dead, async retry', async () => {
    const kiln = async (...args: string[]) => (await runKiln(t.url, args)).stdout;
    const id = (await kiln('invoke', 'async-probe', '--async', '-p', '/fail')).trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await finished(t.url, id);
    const record = JSON.parse(await kiln('async', 'get', id)) as View;
    expect(record.state).toBe('dead');
    expect(await kiln('async', 'ls', '--dead')).toMatch(new RegExp(`${id} +async-probe +dead +3 +500`));
    expect(await kiln('async', 'retry', id)).toBe(`${id} queued\n`);
  });

  it('refuses a bad callback URL, an unknown function and an unknown id', async () => {
    const bad = await submit(t.url, 'async-probe', '/', {
      headers: { 'x-callback-url': 'file:///etc/passwd' },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_callback_url');
    const missing = await submit(t.url, 'no-such-fn', '/');
    expect(missing.status).toBe(404);
    const unknown = await fetch(`${t.url}/async/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    const state = await fetch(`${t.url}/async?state=nope`);
    expect(state.status).toBe(400);
  });
});

describe('async work beside sync work', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway();
    // Two slots; a sync queue of two: were async work let into the pool's queue, sync
    // requests would find it full (429).
    const res = await deployDir(t.url, PROBE, { maxInstances: '2', maxQueue: '2', maxAsyncQueue: '2000' });
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('serves every sync request while 1000 async invocations drain', async () => {
    const ids: string[] = [];
    for (let batch = 0; batch < 1000; batch += 50) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => submit(t.url, 'async-probe', '/slow?ms=5')),
      );
      for (const res of answers) {
        expect(res.status).toBe(202);
        ids.push(((await res.json()) as { id: string }).id);
      }
    }
    // Two sync clients, one request at a time each, while the async queue is still long.
    const statuses: number[] = [];
    await Promise.all(
      [0, 1].map(async () => {
        for (let i = 0; i < 25; i++) {
          const res = await fetch(`${t.url}/fn/async-probe/echo`, { method: 'POST', body: 'sync' });
          statuses.push(res.status);
          await res.arrayBuffer();
        }
      }),
    );
    expect(t.kiln.asyncInvoker.pending('async-probe')).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await vi.waitFor(
      () => {
        if (t.kiln.asyncInvoker.pending('async-probe') > 0) throw new Error('still draining');
      },
      { timeout: 600_000, interval: 200 },
    );
    const states = new Set(ids.map((id) => t.kiln.asyncInvoker.get(id).state));
    expect([...states]).toEqual(['succeeded']);
  }, 900_000);

  it('keeps a finished invocation asyncRetentionMs, then removes its record', async () => {
    const redeploy = await deployDir(t.url, PROBE, { maxInstances: '2', asyncRetentionMs: '1000' });
    expect(redeploy.status).toBe(201);
    const res = await submit(t.url, 'async-probe', '/echo', { body: 'short-lived' });
    const { id } = (await res.json()) as { id: string };
    const done = await finished(t.url, id);
    expect(done.state).toBe('succeeded');
    const file = path.join(t.dataDir, 'async', `${id}.json`);
    expect(existsSync(file)).toBe(true);
    await vi.waitFor(
      async () => {
        if ((await fetch(`${t.url}/async/${id}`)).status !== 404) throw new Error('still kept');
      },
      { timeout: 30_000, interval: 100 },
    );
    await vi.waitFor(
      () => {
        if (existsSync(file)) throw new Error('file still there');
      },
      { timeout: 5_000, interval: 50 },
    );
  });

  it('refuses past maxAsyncQueue with 429 and Retry-After', async () => {
    const redeploy = await deployDir(t.url, PROBE, { maxInstances: '1', maxAsyncQueue: '1' });
    expect(redeploy.status).toBe(201);
    const first = await submit(t.url, 'async-probe', '/slow?ms=2000');
    const second = await submit(t.url, 'async-probe', '/slow?ms=10');
    const third = await submit(t.url, 'async-probe', '/slow?ms=10');
    expect([first.status, second.status]).toContain(202);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('async_queue_full');
  });
});
