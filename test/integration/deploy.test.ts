import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDir } from '../../src/build/pack-dir.js';
import { deployDir, EXAMPLES, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

describe('deploy and invoke the examples in crun containers', () => {
  it('hello-node: a fetch-style function', async () => {
    const deployed = await deployDir(t.url, path.join(EXAMPLES, 'hello-node'));
    expect(deployed.status).toBe(201);
    expect(deployed.body).toMatchObject({ function: { name: 'hello-node', version: 1 }, version: 1 });
    const res = await fetch(`${t.url}/fn/hello-node/some/path?name=Kiln`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hello, Kiln! (node v22.23.3, path /some/path)\n');
    expect(res.headers.get('x-kiln-version')).toBe('1');
    const post = await fetch(`${t.url}/fn/hello-node/`, { method: 'POST', body: 'abc' });
    expect(await post.text()).toBe('you sent 3 bytes\n');
  });

  it('hello-ts: a TypeScript Hono app bundled with its own node_modules', async () => {
    expect((await deployDir(t.url, path.join(EXAMPLES, 'hello-ts'))).status).toBe(201);
    expect(await (await fetch(`${t.url}/fn/hello-ts/`)).text()).toBe('Hello from Hono on Kiln\n');
    const greet = await fetch(`${t.url}/fn/hello-ts/greet/ada`);
    expect(await greet.json()).toEqual({ hello: 'ada', runtime: 'node v22.23.3' });
    const echo = await fetch(`${t.url}/fn/hello-ts/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: [1, 2] }),
    });
    expect(await echo.json()).toEqual({ echo: { n: [1, 2] } });
  });

  it('lambda-node: an unmodified CommonJS Lambda handler named app.lambdaHandler', async () => {
    expect((await deployDir(t.url, path.join(EXAMPLES, 'lambda-node'))).status).toBe(201);
    const res = await fetch(`${t.url}/fn/lambda-node/orders?name=Grace`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"qty":3}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-handled-by')).toBe('lambda-node');
    const body = await res.json();
    expect(body).toMatchObject({
      message: 'Hello, Grace!',
      method: 'PUT',
      path: '/orders',
      received: { qty: 3 },
      remainingMs: true,
    });
    expect(body.requestId).toBe(res.headers.get('x-kiln-request-id'));
  });

  it('the deploy starts an instance: its first request says warm and prewarmed (not the start it did not wait for), and the same instance serves the next', async () => {
    await deployDir(t.url, path.join(FIXTURES, 'hello-v2'), { name: 'fresh', runtime: 'node' });
    const a = await fetch(`${t.url}/fn/fresh/`);
    const b = await fetch(`${t.url}/fn/fresh/`);
    expect(a.headers.get('x-kiln-start')).toBe('warm');
    expect(a.headers.get('x-kiln-prewarmed')).toBe('true');
    expect(b.headers.get('x-kiln-start')).toBe('warm');
    expect(b.headers.get('x-kiln-prewarmed')).toBeNull();
    // Server-Timing holds this request's phases only: the deploy's start was not its own.
    const phases = (res: Response) =>
      (res.headers.get('server-timing') ?? '').split(', ').map((p) => p.split(';')[0]);
    expect(phases(a)).toEqual(['queue', 'fn']);
    expect(phases(b)).toEqual(['queue', 'fn']);
    expect(b.headers.get('x-kiln-instance')).toBe(a.headers.get('x-kiln-instance'));
    const { instances } = (await (await fetch(`${t.url}/instances`)).json()) as {
      instances: { function: string; requests: number }[];
    };
    expect(instances.find((i) => i.function === 'fresh')?.requests).toBe(2);
  });

  it('starts a cold instance when none is idle', async () => {
    expect(
      (await deployDir(t.url, path.join(FIXTURES, 'slow'), { name: 'slow', runtime: 'node' })).status,
    ).toBe(201);
    // The first request holds the deploy's instance for 1.5 s; the second must get its own.
    const first = fetch(`${t.url}/fn/slow/?ms=1500`);
    await sleep(200);
    const [a, b] = await Promise.all([first, fetch(`${t.url}/fn/slow/?ms=0`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.headers.get('x-kiln-instance')).not.toBe(a.headers.get('x-kiln-instance'));
    expect(b.headers.get('x-kiln-start')).toBe('cold');
  });

  it('deploys from a multipart form: a bundle file with spec fields and a JSON spec beside it', async () => {
    const form = new FormData();
    const bundle = new Uint8Array(await packDir(path.join(FIXTURES, 'hello-v2')));
    form.set('bundle', new Blob([bundle], { type: 'application/gzip' }), 'b.tgz');
    form.set('name', 'multipart');
    form.set('spec', JSON.stringify({ runtime: 'node', memoryMb: 100 }));
    const res = await fetch(`${t.url}/functions`, { method: 'POST', body: form });
    expect(res.status).toBe(201);
    expect(t.kiln.functions.active('multipart').spec.memoryMb).toBe(100);
    expect(await (await fetch(`${t.url}/fn/multipart/`)).text()).toBe('version two\n');
  });

  it('answers /healthz', async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('lists functions and versions', async () => {
    const list = (await (await fetch(`${t.url}/functions`)).json()) as { functions: { name: string }[] };
    expect(list.functions.map((f) => f.name)).toEqual(
      expect.arrayContaining(['hello-node', 'hello-ts', 'lambda-node']),
    );
    const one = (await (await fetch(`${t.url}/functions/lambda-node`)).json()) as {
      activeVersion: number;
      versions: { spec: { handler: string } }[];
    };
    expect(one.activeVersion).toBe(1);
    expect(one.versions[0]?.spec.handler).toBe('app.lambdaHandler');
  });
});

describe('layers are shared', () => {
  it('a second function adds exactly one new layer blob; the same code again adds none', async () => {
    const layersOf = async () => {
      const digests = new Set<string>();
      for (const fn of t.kiln.functions.list()) {
        for (const v of fn.versions) {
          const image = await t.kiln.images.getImage(v.image);
          for (const l of image.manifest.layers) digests.add(l.digest);
        }
      }
      return digests;
    };
    const blobs = async () => new Set((await t.kiln.images.listBlobs()).map((b) => b.digest));
    await deployDir(t.url, path.join(FIXTURES, 'probe'), { name: 'layers-a', runtime: 'node' });
    const layersBefore = await layersOf();
    const blobsBefore = await blobs();

    // Code no earlier run can have stored: the shared cache keeps blobs between runs.
    const unique = await mkdtemp(path.join(tmpdir(), 'kiln-unique-'));
    await writeFile(
      path.join(unique, 'index.mjs'),
      `export default { fetch: () => new Response(${JSON.stringify(unique)}) };`,
    );
    const second = await deployDir(t.url, unique, { name: 'layers-b', runtime: 'node' });
    expect(second.status).toBe(201);
    const newLayers = [...(await layersOf())].filter((d) => !layersBefore.has(d));
    expect(newLayers).toEqual([second.body.layer]);
    const a = await t.kiln.images.getImage(t.kiln.functions.active('layers-a').image);
    const b = await t.kiln.images.getImage(t.kiln.functions.active('layers-b').image);
    expect(a.manifest.layers.slice(0, 3)).toEqual(b.manifest.layers.slice(0, 3));
    expect(a.manifest.layers[3]?.digest).not.toBe(b.manifest.layers[3]?.digest);
    // New blobs: that one layer, plus the image's config and manifest; nothing else.
    const added = [...(await blobs())].filter((d) => !blobsBefore.has(d));
    expect(added.sort()).toEqual([second.body.layer, b.manifestDigest, b.manifest.config.digest].sort());

    const again = await deployDir(t.url, unique, { name: 'layers-c', runtime: 'node' });
    expect(again.body.layerReused).toBe(true);
    expect(again.body.layer).toBe(second.body.layer);
    await rm(unique, { recursive: true });
  });
});
