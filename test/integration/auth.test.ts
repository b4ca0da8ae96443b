import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/gateway/app.js';
import { type RunningGateway, startGateway } from '../../src/gateway/server.js';
import { EXAMPLES, startTestGateway, type TestGateway } from '../harness.js';

const token = `t-${randomBytes(24).toString('base64url')}`;
let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ token });
});
afterAll(() => t?.close());

const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

/**
 * Routes of the Hono app that are public by design: the health check, and async invokes,
 * which follow the invoke rule (public unless the function says `auth: "token"`, tested
 * below) and whose results are read by an unguessable id. Every other route is control plane.
 */
const PUBLIC = ['GET /healthz', 'GET /async/:id', 'POST /async/:name', 'POST /async/:name/*'];

/** Every route of the control-plane app, as `kiln serve` builds it: a new route is checked without being listed here. */
function controlRoutes(): { method: string; path: string }[] {
  const seen = new Map<string, { method: string; path: string }>();
  for (const route of createApp(t.kiln, { token }).routes) {
    if (route.method === 'ALL' || PUBLIC.includes(`${route.method} ${route.path}`)) continue;
    const concrete = route.path.replace(/:[a-z]+/gi, 'nobody');
    seen.set(`${route.method} ${concrete}`, { method: route.method, path: concrete });
  }
  return [...seen.values()];
}

describe('the control plane demands the token', () => {
  it('answers 401 unauthorized with WWW-Authenticate: Bearer on every route, for no, wrong and malformed tokens', async () => {
    const routes = controlRoutes();
    // The areas routes/ registers today; more may come, and are checked the same way.
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining([
        'POST /functions',
        'GET /functions',
        'GET /functions/nobody',
        'GET /functions/nobody/versions',
        'DELETE /functions/nobody',
        'GET /functions/nobody/logs',
        'GET /instances',
        'DELETE /instances/nobody',
        'GET /async',
      ]),
    );
    const wrong: Record<string, string>[] = [
      {},
      bearer(`${token}x`),
      bearer(token.slice(0, -1)),
      bearer(token.toUpperCase()),
      { authorization: token },
      { authorization: `Basic ${Buffer.from(`kiln:${token}`).toString('base64')}` },
      bearer(''),
    ];
    for (const route of routes) {
      for (const headers of wrong) {
        const res = await fetch(`${t.url}${route.path}`, { method: route.method, headers });
        expect(res.status, `${route.method} ${route.path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      }
      const right = await fetch(`${t.url}${route.path}`, { method: route.method, headers: bearer(token) });
      await right.arrayBuffer();
      expect(right.status, `${route.method} ${route.path} with the token`).not.toBe(401);
    }
  });

  it('leaves /healthz public', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });
});

describe('invoke', () => {
  let open: RunningGateway | undefined;
  afterAll(() => open?.close());

  it('is public by default, and needs the token for a function whose spec says auth: "token"', async () => {
    const deploy = (query: Record<string, string>) =>
      fetch(`${t.url}/functions?${new URLSearchParams(query)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/gzip', ...bearer(token) },
        body: deployBody,
      });
    const deployBody = (await import('../../src/build/pack-dir.js').then((m) =>
      m.packDir(path.join(EXAMPLES, 'hello-node')),
    )) as unknown as BodyInit;
    expect((await deploy({ name: 'pub', runtime: 'node' })).status).toBe(201);
    expect((await deploy({ name: 'private', runtime: 'node', auth: 'token' })).status).toBe(201);
    const bad = await deploy({ name: 'x', runtime: 'node', auth: 'basic' });
    expect(bad.status).toBe(400);

    expect((await fetch(`${t.url}/fn/pub/?name=a`)).status).toBe(200);
    for (const headers of [{}, bearer('nope-nope-nope-nope'), { authorization: token }]) {
      const res = await fetch(`${t.url}/fn/private/?name=a`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const res = await fetch(`${t.url}/fn/private/?name=a`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Hello, a!');

    // Async invokes follow the same rule; re-driving one is control plane.
    expect((await fetch(`${t.url}/async/private/`, { method: 'POST' })).status).toBe(401);
    const submitted = await fetch(`${t.url}/async/pub/`, { method: 'POST' });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const retry = await fetch(`${t.url}/async/${id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(401);
    expect(retry.headers.get('www-authenticate')).toMatch(/^Bearer /);

    // A gateway with no token (--insecure-no-auth) has none to accept: the function fails closed.
    open = await startGateway(t.kiln, '127.0.0.1', 0, {});
    expect((await fetch(`${open.url}/fn/private/`, { headers: bearer(token) })).status).toBe(401);
    expect((await fetch(`${open.url}/fn/pub/`)).status).toBe(200);
  });

  it('answers a malformed %-escape in a function name with 400, not 500', async () => {
    const res = await fetch(`${t.url}/fn/%E0%A4%A/`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_path' } });
  });
});
