import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

/**
 * Secrets (issue 12) through real gateways and containers: created from the CLI's stdin or
 * the API, seen by the function at /run/secrets/NAME (cold and stem-cell starts), readable by
 * the instance's uid alone, and found nowhere else: not in the data dir outside secrets/
 * (records, logs, the function's image blobs), not in any API answer.
 */
/** statfs(2) f_type of tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
const VALUE = `s3cr3t-${process.pid}-${Date.now()}-kiln`;
let t: TestGateway;
let work: string;

async function secretReader(): Promise<string> {
  const dir = path.join(work, 'reader');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'index.mjs'),
    `import { readFileSync, statSync, writeFileSync } from 'node:fs';
export default { fetch: (req) => {
  const name = new URL(req.url).searchParams.get('name') ?? 'db';
  if (new URL(req.url).searchParams.has('write')) {
    try { writeFileSync('/run/secrets/' + name, 'x'); return new Response('written'); } catch (e) { return new Response(e.code); }
  }
  const st = statSync('/run/secrets/' + name);
  console.log('read secret', name, 'mode', (st.mode & 0o777).toString(8));
  return Response.json({ value: readFileSync('/run/secrets/' + name, 'utf8'), mode: st.mode & 0o777, mine: st.uid === process.getuid() });
} };\n`,
  );
  return dir;
}

function kiln(args: string[], input?: string) {
  return runKiln(t.url, args, { stdin: input });
}

async function control(
  method: string,
  p: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON the gateway answers
): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(`${t.url}${p}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), text };
}

/** Every regular file under `dir` (symlinks not followed: the shared image cache is one). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(p)));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

beforeAll(async () => {
  t = await startTestGateway();
  work = t.srcDir;
});
afterAll(async () => {
  await t?.close();
});

describe('secrets', () => {
  it('reach the function at /run/secrets/NAME and appear nowhere else', async () => {
    const created = await kiln(['secret', 'create', 'db', '--json'], VALUE);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'db', size: VALUE.length });
    expect((await control('POST', '/secrets', { name: 'api', value: 'other' })).status).toBe(201);
    expect((await control('POST', '/secrets', { name: 'api', value: 'again' })).json.error.code).toBe(
      'secret_exists',
    );

    const dir = await secretReader();
    const deployed = await deployDir(t.url, dir, { name: 'reader', runtime: 'node', secrets: 'db,api' });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    const res = await fetch(`${t.url}/fn/reader/?name=db`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ value: VALUE, mode: 0o400, mine: true });
    expect(await (await fetch(`${t.url}/fn/reader/?name=db&write=1`)).text()).toBe('EROFS');

    // Files of the data dir outside secrets/ (records, logs, async, tmp) and the image's blobs.
    await t.kiln.logs.flush();
    // Besides the store, only the instance's own copy (its /run/secrets) holds it: on a tmpfs.
    const copies = t.kiln.runtime.secrets.root;
    expect((await statfs(copies)).type).toBe(TMPFS_MAGIC);
    const [running] = (await t.kiln.pool.list()).filter((i) => i.function === 'reader');
    if (!running) throw new Error('no instance of reader');
    expect((await filesUnder(copies)).map((f) => path.relative(copies, f))).toEqual([
      `${running.id}/api`,
      `${running.id}/db`,
    ]);
    const files = (await filesUnder(t.dataDir)).filter((f) => !f.startsWith(path.join(t.dataDir, 'secrets')));
    const image = await t.kiln.images.getImage(
      (await control('GET', '/functions/reader')).json.versions[0].image,
    );
    const blobs = [...image.manifest.layers.slice(-1).map((l) => l.digest), image.manifest.config.digest].map(
      (d) => t.kiln.images.blobPath(d),
    );
    expect(files.length).toBeGreaterThan(2);
    for (const file of [...files, ...blobs]) {
      const bytes = await readFile(file);
      const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
      expect(plain.includes(VALUE), file).toBe(false);
    }
    expect((await kiln(['logs', 'reader'])).stdout).toContain('read secret db mode 400');
    for (const p of [
      '/secrets',
      '/secrets/db',
      '/functions/reader',
      '/functions/reader/versions',
      '/functions/reader/inspect',
      '/instances',
    ]) {
      expect((await control('GET', p)).text).not.toContain(VALUE);
    }
    expect((await control('GET', '/secrets/db')).json).toMatchObject({ name: 'db', usedBy: ['reader'] });
    // kiln inspect: spec, versions, aliases, the image's layers by kind; secrets by name only.
    expect((await control('PUT', '/functions/reader/aliases/prod', { version: 1 })).status).toBe(200);
    const inspected = await kiln(['inspect', 'reader', '--json']);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).not.toContain(VALUE);
    const fn = JSON.parse(inspected.stdout);
    expect(fn).toMatchObject({ name: 'reader', runtime: 'node', activeVersion: 1, aliases: { prod: 1 } });
    expect(fn.secrets).toEqual(['api', 'db']);
    expect(fn.spec.secrets).toEqual(['api', 'db']);
    expect(fn.versions).toMatchObject([
      { version: 1, active: true, aliases: ['prod'], image: image.manifestDigest },
    ]);
    expect(fn.image.digest).toBe(image.manifestDigest);
    expect(fn.image.layers.map((l: { kind: string }) => l.kind)).toEqual([
      'os',
      'language',
      'shim',
      'function',
    ]);
    expect(fn.image.layers.map((l: { digest: string }) => l.digest)).toEqual(
      image.manifest.layers.map((l) => l.digest),
    );
    for (const layer of fn.image.layers) expect(layer.size).toBeGreaterThan(0);
    expect(fn.image.layers[3].createdBy).toContain('kiln deploy reader');
    const human = await kiln(['inspect', 'reader']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Secrets:\s+api, db/m);
    expect(human.stdout).toMatch(/^function\s+[0-9a-f]{12}/m);
    expect(human.stdout).not.toContain(VALUE);
    const missing = await kiln(['inspect', 'nobody']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('[function_not_found]');
    // An aliased version keeps its secrets in use (the next test removes one).
    expect((await control('DELETE', '/functions/reader/aliases/prod')).status).toBe(200);
    const ls = await kiln(['secret', 'ls', '--json']);
    expect(JSON.parse(ls.stdout).secrets.map((s: { name: string }) => s.name)).toEqual(['api', 'db']);
    expect(ls.stdout).not.toContain(VALUE);
    expect((await stat(path.join(t.dataDir, 'secrets', 'db'))).mode & 0o777).toBe(0o600);
    // The copy goes with its instance.
    expect((await control('DELETE', `/instances/${running.id}`)).status).toBe(200);
    await expect.poll(() => existsSync(path.join(copies, running.id)), { timeout: 20_000 }).toBe(false);
  });

  it('refuses to remove a secret in use, and a function naming a missing secret does not deploy', async () => {
    const rm1 = await kiln(['secret', 'rm', 'db']);
    expect(rm1.code).not.toBe(0);
    expect(rm1.stderr).toContain('[secret_in_use]');
    expect((await kiln(['update', 'reader', '--secrets', 'api'])).code).toBe(0);
    expect((await kiln(['secret', 'rm', 'db'])).code).toBe(0);
    expect((await fetch(`${t.url}/fn/reader/?name=api`).then((r) => r.json())).value).toBe('other');

    const missing = await deployDir(t.url, await secretReader(), {
      name: 'lost',
      runtime: 'node',
      secrets: 'nope',
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error?.code).toBe('secret_not_found');
    expect((await control('GET', '/secrets/nope')).status).toBe(404);
    expect((await kiln(['secret', 'create', 'empty'], '')).stderr).toContain('[empty_secret]');
  });

  it('reach a stem cell specialized for the function', async () => {
    const s = await startTestGateway({ stemCells: 1 });
    try {
      await s.kiln.secrets.create('token', Buffer.from(VALUE));
      const dir = await secretReader();
      // A first node deploy makes the pool keep a node stem cell; the next start takes it.
      const first = await deployDir(s.url, dir, { name: 'first', runtime: 'node' });
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      await expect.poll(async () => (await s.kiln.pool.listStemCells()).length, { timeout: 30_000 }).toBe(1);
      expect((await deployDir(s.url, dir, { name: 'stem', runtime: 'node', secrets: 'token' })).status).toBe(
        201,
      );
      const stem = (await s.kiln.pool.list()).find((i) => i.function === 'stem');
      expect(stem?.startedAs).toBe('stem');
      const res = await fetch(`${s.url}/fn/stem/?name=token`);
      expect(await res.json()).toEqual({ value: VALUE, mode: 0o400, mine: true });
    } finally {
      await s.close();
    }
  });
});
