import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestDrain } from './drain.js';

/** A server whose `/hold` requests are answered when the test says so. */
async function holdingServer() {
  const held: ServerResponse[] = [];
  const arrived: (() => void)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/hold')) {
      held.push(res);
      for (const wake of arrived.splice(0)) wake();
    } else res.end('quick');
  });
  const drain = new RequestDrain(server, (req) => req.url === '/hold-forever');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const waitHeld = async (n: number) => {
    while (held.length < n) await new Promise<void>((r) => arrived.push(r));
  };
  return { server, drain, port, held, waitHeld };
}

function get(port: number, path: string, agent: Agent | false = false) {
  return new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    })
      .on('error', reject)
      .end();
  });
}

let close: (() => void) | undefined;
afterEach(() => close?.());

describe('RequestDrain', () => {
  it('stops accepting, lets requests in flight finish, and then resolves', async () => {
    const s = await holdingServer();
    close = () => s.server.closeAllConnections();
    const answers = [1, 2, 3].map(() => get(s.port, '/hold'));
    await s.waitHeld(3);
    expect(s.drain.inFlight).toBe(3);
    const drained = s.drain.drain(60_000);
    // The listening socket is closed: a new connection is refused.
    await expect(
      new Promise((resolve, reject) =>
        connect(s.port, '127.0.0.1').on('connect', resolve).on('error', reject),
      ),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    for (const res of s.held) res.end('done');
    expect(await Promise.all(answers)).toEqual(
      [1, 2, 3].map(() => expect.objectContaining({ status: 200, body: 'done' })),
    );
    expect(await drained).toEqual({ cut: 0 });
  });

  it('cuts what is left when the grace period ends, and does not wait for open-ended requests', async () => {
    const s = await holdingServer();
    const forever = get(s.port, '/hold-forever').catch((err: Error) => err);
    const slow = get(s.port, '/hold').catch((err: Error) => err);
    await s.waitHeld(2);
    expect(s.drain.inFlight).toBe(1);
    expect(await s.drain.drain(50)).toEqual({ cut: 1 });
    expect(await slow).toBeInstanceOf(Error);
    expect(await forever).toBeInstanceOf(Error);
  });

  it('answers with Connection: close while draining, so keep-alive clients go', async () => {
    const s = await holdingServer();
    close = () => s.server.closeAllConnections();
    const agent = new Agent({ keepAlive: true });
    // Before the drain, a keep-alive client's connection stays open.
    expect(await get(s.port, '/quick', agent)).toMatchObject({ body: 'quick', connection: 'keep-alive' });
    const held = get(s.port, '/hold', agent);
    await s.waitHeld(1);
    const drained = s.drain.drain(60_000);
    s.held[0]!.end('bye');
    expect(await held).toMatchObject({ body: 'bye', connection: 'close' });
    expect(await drained).toEqual({ cut: 0 });
  });
});
