import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXAMPLES, TEST_CACHE } from '../harness.js';
import { GatewayProcess, mountsUnder } from './gateway-process.js';

/**
 * issue 8 §12: after kill -9 mid-deploy, a 119 MB tmp/deploy-* dir and a partial blob in
 * images/ingest survived three restarts. Now a gateway killed while a build container
 * runs comes back with no container, mount, work dir or ingest file of the dead run, and
 * the function's previous version serving.
 */
let gateway: GatewayProcess;
let slowBundle: string;

beforeAll(async () => {
  gateway = await GatewayProcess.start();
  slowBundle = path.join(gateway.dataDir, '..', `${path.basename(gateway.dataDir)}-slow`);
  await mkdir(path.join(slowBundle, 'gen'), { recursive: true });
  await writeFile(
    path.join(slowBundle, 'Hello.java'),
    'public class Hello { public Object handleRequest(java.util.Map<String, Object> e) { return "v2"; } }',
  );
  // Enough classes to keep javac busy for seconds.
  for (let i = 0; i < 2000; i++) {
    await writeFile(
      path.join(slowBundle, 'gen', `C${i}.java`),
      `class C${i} { int f(int x) { return x * ${i} + C${(i + 1) % 2000}.g(); } static int g() { return ${i}; } }`,
    );
  }
});

afterAll(async () => {
  await gateway?.remove();
  await rm(slowBundle, { recursive: true, force: true });
});

it('kill -9 while a build runs, then a restart: no debris, and the previous version serves', async () => {
  const first = await gateway.deploy(path.join(EXAMPLES, 'hello-java'), { name: 'keeper' });
  expect(first.status, first.text).toBe(201);

  // The redeploy whose build is running when the gateway dies.
  const doomed = gateway
    .deploy(slowBundle, { name: 'keeper', runtime: 'java', handler: 'Hello' })
    .catch((e: Error) => e);
  const tmp = path.join(gateway.dataDir, 'tmp');
  for (let i = 0; i < 600 && !(await gateway.containers()).some((id) => id.startsWith('b')); i++)
    await sleep(50);
  expect((await gateway.containers()).some((id) => id.startsWith('b'))).toBe(true);
  const deadPid = gateway.pid!;
  await gateway.kill9();
  expect(await doomed).toBeInstanceOf(Error);

  // What the dead gateway left: its work dirs, the build's mounts, its build container.
  expect((await readdir(tmp)).some((n) => n.startsWith('deploy-'))).toBe(true);
  expect(await mountsUnder(tmp)).not.toEqual([]);
  // And a blob it was writing (a crash can land mid-ingest too).
  const ingest = path.join(TEST_CACHE, 'images', 'ingest', `${deadPid}-0123456789abcdef.tar`);
  await writeFile(ingest, 'half a layer');

  await gateway.launch();
  expect(await readdir(tmp)).toEqual([]);
  expect(await mountsUnder(tmp)).toEqual([]);
  expect((await gateway.containers()).filter((id) => id.startsWith('b'))).toEqual([]);
  expect(existsSync(ingest)).toBe(false);

  const served = await fetch(`${gateway.url}/fn/keeper/?name=survivor`);
  expect(served.status).toBe(200);
  expect(served.headers.get('x-kiln-version')).toBe('1');
  expect(await served.text()).toContain('Hello, survivor!');
  const record = JSON.parse(await readFile(path.join(gateway.dataDir, 'functions/keeper.json'), 'utf8')) as {
    versions: unknown[];
  };
  expect(record.versions).toHaveLength(1);
});

it('kill -9 with a call socket open, then a restart: the socket is gone, and calls work again', async () => {
  const caller = path.join(gateway.dataDir, '..', `${path.basename(gateway.dataDir)}-caller`);
  await mkdir(caller, { recursive: true });
  try {
    await writeFile(
      path.join(caller, 'index.mjs'),
      `import http from 'node:http';
export default { fetch: () => new Promise((resolve, reject) => {
  const req = http.request({ socketPath: process.env.KILN_GATEWAY_SOCKET, path: '/fn/callee/?name=caller' }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (text += c));
    res.on('end', () => resolve(new Response(res.statusCode + ' ' + text)));
  });
  req.on('error', reject);
  req.end();
}) };\n`,
    );
    expect((await gateway.deploy(path.join(EXAMPLES, 'hello-python'), { name: 'callee' })).status).toBe(201);
    expect((await gateway.deploy(caller, { name: 'caller', runtime: 'node', calls: 'callee' })).status).toBe(
      201,
    );
    const before = await fetch(`${gateway.url}/fn/caller/`);
    expect(await before.text()).toMatch(/^200 .*caller/);
    const instances = path.join(gateway.dataDir, 'instances');
    const sockets = async () => {
      const found: string[] = [];
      for (const id of await readdir(instances)) {
        if (existsSync(path.join(instances, id, 'calls', 'gateway.sock'))) found.push(id);
      }
      return found;
    };
    const left = await sockets();
    expect(left).toHaveLength(1);

    await gateway.kill9();
    // The dead gateway's socket file stays, with nobody listening on it.
    expect(await sockets()).toEqual(left);

    await gateway.launch();
    expect((await readdir(instances)).filter((n) => left.includes(n))).toEqual([]);
    const after = await fetch(`${gateway.url}/fn/caller/`);
    expect(await after.text()).toMatch(/^200 .*caller/);
    const now = await sockets();
    expect(now).toHaveLength(1);
    expect(now).not.toEqual(left);
  } finally {
    await rm(caller, { recursive: true, force: true });
  }
});
