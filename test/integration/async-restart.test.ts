import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayProcess } from '../containment/gateway-process.js';
import { FIXTURES } from '../harness.js';

interface View {
  state: string;
  attempts: { number: number; status?: number; error?: { code: string } }[];
  result?: { status: number; body: { data: string } };
}

describe('async invocations across a gateway killed with -9', () => {
  let gw: GatewayProcess;

  beforeAll(async () => {
    gw = await GatewayProcess.start({ KILN_ASYNC_BACKOFF_MS: '20' });
    // One slot: async work runs one invocation at a time, so the second waits in the queue.
    const res = await gw.deploy(path.join(FIXTURES, 'async-probe'), {
      maxInstances: '1',
      timeoutMs: '20000',
    });
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    await gw?.remove();
  });

  const logs = async () =>
    (await fetch(`${gw.url}/functions/async-probe/logs?format=text`, { headers: gw.headers() })).text();
  const submit = async (sub: string, body?: string) => {
    const res = await fetch(`${gw.url}/async/async-probe${sub}`, { method: 'POST', body });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };

  it('runs what was accepted and retries what was running, with the same invocation id', async () => {
    const running = await submit('/slow?ms=3000');
    const queued = await submit('/echo', 'after restart');
    // The first is at the function (its line is in the logs); the second waits behind it.
    await vi.waitFor(
      async () => {
        if (!(await logs()).includes(`attempt ${running} /slow`)) throw new Error('not started');
      },
      { timeout: 30_000, interval: 50 },
    );
    await gw.kill9();
    await gw.launch();

    const done = async (id: string) =>
      vi.waitFor(
        async () => {
          const v = (await (await fetch(`${gw.url}/async/${id}`)).json()) as View;
          if (v.state !== 'succeeded') throw new Error(`still ${v.state}`);
          return v;
        },
        { timeout: 60_000, interval: 100 },
      );
    const first = await done(running);
    expect(first.attempts.map((a) => a.error?.code ?? a.status)).toEqual(['gateway_restarted', 200]);
    const second = await done(queued);
    expect(second.attempts).toHaveLength(1);
    expect(second.result?.body.data).toBe('echo after restart');

    // The function saw the same id on both attempts of the first (each in a new process).
    // Listing is a control route: it needs the gateway's token; a result by id does not.
    expect((await fetch(`${gw.url}/async?state=succeeded`)).status).toBe(401);
    expect((await fetch(`${gw.url}/async?state=succeeded`, { headers: gw.headers() })).status).toBe(200);

    const lines = (await logs()).split('\n').filter((l) => l.includes(`attempt ${running} /slow`));
    expect(lines).toHaveLength(2);
  });
});
