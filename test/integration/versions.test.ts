import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

/**
 * Versions, aliases and rollback (issue 12) through a real gateway and real containers:
 * every deploy is a version, the same files and spec again make none, a rollback switches
 * under load without a failed request, pinned versions and aliases serve beside the active one.
 */
let t: TestGateway;
let work: string;

/** A node function dir answering `text` (and $GREETING when set). */
async function fnDir(label: string, text: string): Promise<string> {
  const dir = path.join(work, label);
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'index.mjs'),
    `export default { fetch: () => new Response((process.env.GREETING ?? '') + ${JSON.stringify(text)}) };\n`,
  );
  return dir;
}

async function text(url: string): Promise<{ status: number; body: string; version: string | null }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), version: res.headers.get('x-kiln-version') };
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON the gateway answers
async function control(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t.url}${p}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

function kiln(...args: string[]) {
  return runKiln(t.url, args);
}

beforeAll(async () => {
  t = await startTestGateway();
  work = t.srcDir;
});
afterAll(async () => {
  await t?.close();
});

describe('versions, aliases and rollback', () => {
  it('the same files and spec again make no version and say so; other files make one', async () => {
    const one = await fnDir('one', 'one');
    expect((await deployDir(t.url, one, { name: 'ver', runtime: 'node' })).status).toBe(201);
    const again = await deployDir(t.url, await fnDir('one-copy', 'one'), { name: 'ver', runtime: 'node' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ version: 1, unchanged: true });
    const cli = await kiln('deploy', one, '--name', 'ver', '--runtime', 'node');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('ver unchanged: version 1');
    expect(
      (await deployDir(t.url, await fnDir('two', 'two'), { name: 'ver', runtime: 'node' })).body,
    ).toMatchObject({
      version: 2,
      unchanged: false,
    });
    const { json } = await control('GET', '/functions/ver/versions');
    expect(json.active).toBe(2);
    expect(json.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect(json.versions[0]).toMatchObject({
      sourceDigest: expect.stringMatching(/^sha256:/),
      createdAt: expect.any(String),
    });
  });

  it('serves a version pinned by number or by alias beside the active one', async () => {
    expect(await text(`${t.url}/fn/ver/`)).toMatchObject({ body: 'two', version: '2' });
    expect(await text(`${t.url}/fn/ver@1/`)).toMatchObject({ body: 'one', version: '1' });
    const set = await kiln('alias', 'set', 'ver', 'prod', '1');
    expect(set).toMatchObject({ code: 0, stdout: 'ver@prod → version 1\n' });
    expect(await text(`${t.url}/fn/ver@prod/x`)).toMatchObject({ body: 'one', version: '1' });
    const ls = JSON.parse((await kiln('alias', 'ls', 'ver', '--json')).stdout);
    expect(ls).toEqual({ aliases: [{ name: 'prod', version: 1 }] });
    expect((await text(`${t.url}/fn/ver@9/`)).status).toBe(404);
    expect(await control('GET', '/fn/ver@beta/')).toMatchObject({
      status: 404,
      json: { error: { code: 'alias_not_found' } },
    });
    expect((await control('PUT', '/functions/ver/aliases/9x', { version: 1 })).json.error.code).toBe(
      'invalid_alias',
    );
    expect((await control('PUT', '/functions/ver/aliases/beta', { version: 7 })).status).toBe(404);
  });

  it('rolls back under load without a failed request, and answers switch back at once', async () => {
    let stop = false;
    const seen: { status: number; body: string }[] = [];
    const worker = async () => {
      while (!stop) seen.push(await text(`${t.url}/fn/ver/`));
    };
    const workers = Array.from({ length: 6 }, worker);
    while (seen.length < 20) await new Promise((r) => setTimeout(r, 10));
    const back = await kiln('rollback', 'ver', '--json');
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toEqual({ function: 'ver', version: 1, previous: 2, unchanged: false });
    // Every request sent after the rollback answered is served by version 1.
    const after = await Promise.all(Array.from({ length: 10 }, () => text(`${t.url}/fn/ver/`)));
    expect(after.map((r) => r.body)).toEqual(Array(10).fill('one'));
    const mark = seen.length;
    while (seen.length < mark + 20) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await Promise.all(workers);
    expect(seen.filter((r) => r.status !== 200)).toEqual([]);
    expect(seen.slice(mark).every((r) => r.body === 'one')).toBe(true);
    expect(new Set(seen.map((r) => r.body))).toEqual(new Set(['one', 'two']));
    // And forward again by number.
    expect((await control('POST', '/functions/ver/rollback', { version: 2 })).json).toMatchObject({
      version: 2,
      previous: 1,
    });
    expect((await text(`${t.url}/fn/ver/`)).body).toBe('two');
    expect((await control('POST', '/functions/ver/rollback', { version: 'x' })).json.error.code).toBe(
      'invalid_version',
    );
  });

  it('a config update is a new version of the same image', async () => {
    const before = (await control('GET', '/functions/ver')).json;
    const patched = await control('PATCH', '/functions/ver', { env: { GREETING: 'hi ' }, memoryMb: 192 });
    expect(patched.status).toBe(201);
    expect(patched.json).toMatchObject({ version: 3, previous: 2, unchanged: false });
    expect(await text(`${t.url}/fn/ver/`)).toMatchObject({ body: 'hi two', version: '3' });
    const record = (await control('GET', '/functions/ver')).json;
    const [v2, v3] = [record.versions[1], record.versions[2]];
    expect(v3.image).toBe(v2.image);
    expect(v3.spec.memoryMb).toBe(192);
    expect(record.versions.length).toBe(before.versions.length + 1);
    const cli = await kiln('update', 'ver', '--unset-env', 'GREETING');
    expect(cli).toMatchObject({ code: 0 });
    expect(await text(`${t.url}/fn/ver/`)).toMatchObject({ body: 'two', version: '4' });
    expect((await kiln('update', 'ver', '--memory', '192')).stdout).toContain('unchanged');
    const refused = await control('PATCH', '/functions/ver', { runtime: 'python' });
    expect(refused).toMatchObject({ status: 400, json: { error: { code: 'not_patchable' } } });
    const versions = JSON.parse((await kiln('versions', 'ver', '--json')).stdout);
    expect(versions.active).toBe(4);
    expect(versions.aliases).toEqual({ prod: 1 });
  });
});
