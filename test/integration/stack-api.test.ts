import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDir } from '../../src/build/pack-dir.js';
import { startTestGateway, type TestGateway, versionCounts } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

const execFileP = promisify(execFile);

/**
 * Stacks without the CLI: `POST /stacks/plan` and `POST /stacks/apply` take a gzip tar of a
 * stack's dir and run the plan and the steps `kiln diff` and `kiln apply` run (one
 * implementation, src/stack), on real containers. The front calls the back through the
 * gateway's call socket.
 */
const STACK = `volumes: [cache]
defaults:
  memoryMb: 64
functions:
  front:
    runtime: node
    calls: [back]
    dependsOn: [back]
  back:
    runtime: python
    handler: handler.handler
`;

const FRONT = `import http from 'node:http';
export default {
  fetch: () =>
    new Promise((resolve, reject) => {
      const req = http.request({ socketPath: process.env.KILN_GATEWAY_SOCKET, path: '/fn/back/' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(new Response('front sees ' + text)));
      });
      req.on('error', reject);
      req.end();
    }),
};
`;

const back = (word: string) => `def handler(event, context):\n    return {"back": "${word}"}\n`;

describe('the stacks API', { timeout: 300_000 }, () => {
  let t: TestGateway;
  let dir: string;

  // biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON the gateway answers
  async function post(route: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${t.url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: (await packDir(dir)) as unknown as BodyInit,
    });
    return { status: res.status, json: await res.json() };
  }

  const versions = () => versionCounts(t.url);

  beforeAll(async () => {
    t = await startTestGateway();
    dir = await mkdtemp(path.join(tmpdir(), 'kiln-stack-api-'));
    await mkdir(path.join(dir, 'front'));
    await mkdir(path.join(dir, 'back'));
    await writeFile(path.join(dir, 'kiln.yaml'), STACK);
    await writeFile(path.join(dir, 'front/index.mjs'), FRONT);
    await writeFile(path.join(dir, 'back/handler.py'), back('one'));
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plans and applies a stack sent as a tar, as kiln diff and kiln apply do', async () => {
    const planned = await post('/stacks/plan');
    expect(planned.status).toBe(200);
    expect(planned.json.lines).toEqual(['+ volume cache', '+ front', '+ back']);
    // As the README's curl sends it: GNU tar's `./`-prefixed entries.
    const { stdout: tarred } = await execFileP('tar', ['czf', '-', '-C', dir, '.'], { encoding: 'buffer' });
    const fromTar = await fetch(`${t.url}/stacks/plan`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: tarred as unknown as BodyInit,
    });
    expect(((await fromTar.json()) as { lines: string[] }).lines).toEqual([
      '+ volume cache',
      '+ front',
      '+ back',
    ]);
    expect(await versions()).toEqual({});

    const applied = await post('/stacks/apply');
    expect(applied.status, JSON.stringify(applied.json)).toBe(200);
    const steps = applied.json.steps as { name: string; ok: boolean; line: string; version: number }[];
    // The volume first; front depends on back: it ends after back.
    expect(steps.map((s) => s.name)).toEqual(['cache', 'back', 'front']);
    expect(steps[0]!.line).toBe('volume cache: created');
    expect(steps.slice(1).every((s) => s.ok && s.version === 1)).toBe(true);
    expect(steps[1]!.line).toMatch(/^back: created version 1 \(\d+ ms\)$/);
    const { volumes } = (await (await fetch(`${t.url}/volumes`)).json()) as { volumes: { name: string }[] };
    expect(volumes.map((v) => v.name)).toEqual(['cache']);
    expect(await (await fetch(`${t.url}/fn/front/`)).text()).toBe('front sees {"back": "one"}');

    // Nothing left to do, by the API's plan and by the CLI's: one plan, two callers.
    expect((await post('/stacks/plan')).json.lines).toEqual([]);
    expect(await runKiln(t.url, ['diff'], { cwd: dir })).toMatchObject({ code: 0, stdout: '' });
  });

  it('redeploys only what changed', async () => {
    await writeFile(path.join(dir, 'back/handler.py'), back('two'));
    expect((await post('/stacks/plan')).json.lines).toEqual(['~ back: source']);
    const applied = await post('/stacks/apply');
    expect(applied.status).toBe(200);
    expect(applied.json.steps.map((s: { line: string }) => s.line.replace(/ \(\d+ ms\)/, ''))).toEqual([
      'back: updated to version 2 (source)',
      'front: unchanged',
    ]);
    expect(await versions()).toEqual({ back: 2, front: 1 });
    expect(await (await fetch(`${t.url}/fn/front/`)).text()).toBe('front sees {"back": "two"}');
  });

  it('refuses a stack whose function dir is outside it, and applies nothing', async () => {
    await writeFile(
      path.join(dir, 'kiln.yaml'),
      STACK.replace('runtime: node', 'runtime: node\n    dir: ../..'),
    );
    for (const route of ['/stacks/plan', '/stacks/apply']) {
      const res = await post(route);
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('invalid_stack');
      expect(res.json.error.message).toContain('kiln.yaml:');
      expect(res.json.error.message).toContain(`dir "../.." is outside the stack's directory`);
    }
    expect(await versions()).toEqual({ back: 2, front: 1 });
    await writeFile(path.join(dir, 'kiln.yaml'), STACK);
  });

  it('answers a body that is no stack with a 4xx', async () => {
    const send = async (body: BodyInit | undefined) => {
      const res = await fetch(`${t.url}/stacks/apply`, {
        method: 'POST',
        headers: { 'content-type': 'application/gzip' },
        body,
      });
      return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
    };
    expect(await send(undefined)).toMatchObject({ status: 400 });
    expect(await send('not a tar')).toEqual({ status: 400, code: 'invalid_bundle' });
    const empty = await mkdtemp(path.join(tmpdir(), 'kiln-stack-api-empty-'));
    try {
      await writeFile(path.join(empty, 'README'), 'no kiln.yaml here\n');
      expect(await send((await packDir(empty)) as unknown as BodyInit)).toEqual({
        status: 400,
        code: 'not_found',
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    expect(await versions()).toEqual({ back: 2, front: 1 });
  });

  it('answers a step that failed with 400 and every step', async () => {
    await writeFile(path.join(dir, 'back/handler.py'), 'def handler(event, context:\n');
    const applied = await post('/stacks/apply');
    expect(applied.status).toBe(400);
    expect(applied.json.error.code).toBe('stack_apply_failed');
    expect(applied.json.steps).toEqual([
      expect.objectContaining({
        name: 'back',
        ok: false,
        line: expect.stringContaining('[handler_load_failed]'),
      }),
      expect.objectContaining({ name: 'front', kind: 'skipped', ok: false }),
    ]);
    expect(await versions()).toEqual({ back: 2, front: 1 });
    await writeFile(path.join(dir, 'back/handler.py'), back('two'));
  });

  it('prunes with ?prune=1', async () => {
    await rm(path.join(dir, 'back'), { recursive: true });
    await writeFile(
      path.join(dir, 'kiln.yaml'),
      'functions:\n  front:\n    runtime: node\n    memoryMb: 64\n    calls: [back]\n',
    );
    expect((await post('/stacks/plan?prune=1')).json.lines).toEqual(['- back']);
    const applied = await post('/stacks/apply?prune=1');
    expect(applied.status).toBe(200);
    const lines = applied.json.steps.map((s: { line: string }) => s.line.replace(/ \(\d+ ms\)/, ''));
    expect(lines.sort()).toEqual(['back: removed', 'front: unchanged']);
    expect(await versions()).toEqual({ front: 1 });
    // The front's call now finds no function.
    expect(await (await fetch(`${t.url}/fn/front/`)).text()).toContain('function_not_found');
  });

  it('needs the control token like any control route', async () => {
    const guarded = await startTestGateway({ token: 'a-token-of-sixteen-chars' });
    try {
      const body = (await packDir(dir)) as unknown as BodyInit;
      const res = await fetch(`${guarded.url}/stacks/plan`, { method: 'POST', body });
      expect(res.status).toBe(401);
    } finally {
      await guarded.close();
    }
  });
});
