import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXAMPLES, startTestGateway, type TestGateway, versionCounts } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

const STACK = `defaults:
  memoryMb: 64
  env: { GREETING: hello }
functions:
  front:
    runtime: node
    dependsOn: [back]
  back:
    dir: services/back
    runtime: python
    handler: handler.handler
  extra:
    runtime: node
    maxInstances: 2
`;

// Each test runs several builds and deploys through the CLI; on a loaded 2-core machine that
// has taken more than vitest's 60 s default.
describe('kiln apply, diff and --prune', { timeout: 300_000 }, () => {
  let t: TestGateway;
  let dir: string;

  /** The built CLI, run in the stack's dir; never throws. */
  const kiln = (...args: string[]) => runKiln(t.url, args, { cwd: dir });

  const versions = () => versionCounts(t.url);

  beforeAll(async () => {
    t = await startTestGateway();
    dir = await mkdtemp(path.join(tmpdir(), 'kiln-stack-'));
    await mkdir(path.join(dir, 'front'));
    await mkdir(path.join(dir, 'services/back'), { recursive: true });
    await mkdir(path.join(dir, 'extra'));
    await writeFile(
      path.join(dir, 'front/index.mjs'),
      "export default { fetch: () => new Response('front ' + process.env.GREETING + '\\n') };\n",
    );
    await writeFile(
      path.join(dir, 'services/back/handler.py'),
      'import os\ndef handler(event, context):\n    return {"back": os.environ["GREETING"]}\n',
    );
    await writeFile(
      path.join(dir, 'extra/index.mjs'),
      "export default { fetch: () => new Response('extra\\n') };\n",
    );
    await writeFile(path.join(dir, 'kiln.yaml'), STACK);
  });

  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('applies a 3-function file, one line per function', async () => {
    expect(await kiln('diff')).toMatchObject({ code: 1, stdout: '+ front\n+ back\n+ extra\n' });
    const applied = await kiln('apply');
    expect(applied.code).toBe(0);
    const order = applied.stdout.trim().split('\n');
    // front depends on back: its deploy starts after back's ended.
    expect(order.findIndex((l) => l.startsWith('back:'))).toBeLessThan(
      order.findIndex((l) => l.startsWith('front:')),
    );
    const lines = [...order].sort();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^back: created version 1 \(\d+ ms\)$/);
    expect(lines[1]).toMatch(/^extra: created version 1/);
    expect(lines[2]).toMatch(/^front: created version 1/);
    expect(await versions()).toEqual({ back: 1, extra: 1, front: 1 });
    expect(await (await fetch(`${t.url}/fn/front/`)).text()).toBe('front hello\n');
    expect(await (await fetch(`${t.url}/fn/back/`)).json()).toEqual({ back: 'hello' });
    expect(await kiln('diff')).toMatchObject({ code: 0, stdout: '' });
  });

  it('redeploys only the function that changed', async () => {
    await writeFile(
      path.join(dir, 'front/index.mjs'),
      "export default { fetch: () => new Response('front v2 ' + process.env.GREETING + '\\n') };\n",
    );
    await writeFile(path.join(dir, 'kiln.yaml'), STACK.replace('maxInstances: 2', 'maxInstances: 3'));
    expect(await kiln('diff')).toMatchObject({
      code: 1,
      stdout: '~ front: source\n~ extra: maxInstances 2 → 3\n',
    });
    const applied = await kiln('apply');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/^back: unchanged$/m);
    expect(await versions()).toEqual({ back: 1, extra: 2, front: 2 });
    expect(await (await fetch(`${t.url}/fn/front/`)).text()).toBe('front v2 hello\n');
  });

  it('points the aliases the file names at the active version, without a deploy', async () => {
    const withAliases = STACK.replace('maxInstances: 2', 'maxInstances: 3')
      .replace('dependsOn: [back]', 'dependsOn: [back]\n    aliases: [live]')
      .replace('handler: handler.handler', 'handler: handler.handler\n    aliases: [live, stable]');
    await writeFile(path.join(dir, 'kiln.yaml'), withAliases);
    expect(await kiln('diff')).toMatchObject({
      code: 1,
      stdout: '~ front: alias live\n~ back: alias live; alias stable\n',
    });
    const applied = await kiln('apply');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/^front: version 2 \(alias live\) \(\d+ ms\)$/m);
    expect(await versions()).toEqual({ back: 1, extra: 2, front: 2 });
    expect(await (await fetch(`${t.url}/fn/front@live/`)).text()).toBe('front v2 hello\n');
    expect(await (await fetch(`${t.url}/fn/back@stable/`)).json()).toEqual({ back: 'hello' });
    expect(await kiln('diff')).toMatchObject({ code: 0, stdout: '' });
  });

  it('prunes what the file no longer names', async () => {
    const without = STACK.replace(/ {2}extra:\n(.*\n){2}/, '');
    await writeFile(path.join(dir, 'kiln.yaml'), without.replace('maxInstances: 2', 'maxInstances: 3'));
    expect(await kiln('diff')).toMatchObject({ code: 0, stdout: '' });
    expect(await kiln('diff', '--prune')).toMatchObject({ code: 1, stdout: '- extra\n' });
    const applied = await kiln('apply', '--prune');
    expect(applied.stdout).toMatch(/^extra: removed/m);
    expect(await versions()).toEqual({ back: 1, front: 2 });
  });

  it('names file, line, column and field of invalid YAML and fields, and applies nothing', async () => {
    await writeFile(
      path.join(dir, 'bad.yaml'),
      'functions:\n  front:\n    runtime: node\n    memoryMb: 1\n  back:\n    dir: nowhere\n    runtime: python\n',
    );
    const bad = await kiln('apply', '-f', 'bad.yaml');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(
      'bad.yaml:4:15: functions.front.memoryMb: "memoryMb" must be between 16 and 8192',
    );
    expect(bad.stderr).toContain('bad.yaml:5:3: functions.back: dir "nowhere" is not a directory');
    expect(bad.stderr).toContain('[invalid_stack]');
    await writeFile(path.join(dir, 'broken.yaml'), 'functions:\n  front: {runtime: node\n');
    const broken = await kiln('diff', '-f', 'broken.yaml');
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/broken\.yaml:\d+:\d+: \(yaml\): /);
    expect(await versions()).toEqual({ back: 1, front: 2 });
  });

  it('checks the secrets a stack names before it applies anything, then mounts them', async () => {
    await mkdir(path.join(dir, 'vault'));
    await writeFile(
      path.join(dir, 'vault/index.mjs'),
      "import { readFileSync } from 'node:fs';\nexport default { fetch: () => new Response(readFileSync('/run/secrets/stack-token', 'utf8')) };\n",
    );
    await writeFile(
      path.join(dir, 'secrets.yaml'),
      'functions:\n  plain:\n    dir: extra\n    runtime: node\n  vault:\n    runtime: node\n    secrets: [stack-token]\n',
    );
    const refused = await kiln('apply', '-f', 'secrets.yaml');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      'secrets.yaml:5:3: functions.vault.secrets: no secret "stack-token" on the gateway',
    );
    expect(Object.keys(await versions())).not.toContain('plain');
    const created = await fetch(`${t.url}/secrets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'stack-token', value: 'from the secret store' }),
    });
    expect(created.status).toBe(201);
    const applied = await kiln('apply', '-f', 'secrets.yaml');
    expect(applied.code).toBe(0);
    expect(await (await fetch(`${t.url}/fn/vault/`)).text()).toBe('from the secret store');
    expect(await kiln('diff', '-f', 'secrets.yaml')).toMatchObject({ code: 0, stdout: '' });
  });

  it('applies examples/stack: a Node API calling a Python quote through the gateway, an async Java worker', async () => {
    const applied = await kiln('apply', '-f', path.join(EXAMPLES, 'stack/kiln.yaml'));
    expect(applied.code).toBe(0);
    expect(
      applied.stdout
        .trim()
        .split('\n')
        .sort()
        .map((l) => l.split(':')[0]),
    ).toEqual(['api', 'quote', 'receipts']);
    const order = { items: [{ sku: 'mug', qty: 2 }] };
    const created = await fetch(`${t.url}/fn/api/orders`, { method: 'POST', body: JSON.stringify(order) });
    expect(created.status).toBe(201);
    const answer = (await created.json()) as { quote: unknown; receipt: string };
    // The API priced the order by calling quote, and queued its receipt with the Java worker,
    // both through the gateway's call socket.
    expect(answer.quote).toMatchObject({ shop: 'Kiln Shop', currency: 'EUR', total: 25 });
    expect(answer.receipt).toMatch(/^\/async\/[0-9a-f-]{36}$/);
    const id = answer.receipt.slice('/async/'.length);
    const done = await vi.waitFor(
      async () => {
        const v = (await (await fetch(`${t.url}/async/${id}`)).json()) as {
          state: string;
          result?: { body: { data: string } };
        };
        if (v.state === 'queued' || v.state === 'running') throw new Error(`still ${v.state}`);
        return v;
      },
      { timeout: 60_000, interval: 100 },
    );
    expect(done.state).toBe('succeeded');
    // The worker saw the invocation id as its request id (what it would deduplicate by).
    expect(JSON.parse(done.result!.body.data)).toMatchObject({ invocation: id });
    expect(await kiln('diff', '-f', path.join(EXAMPLES, 'stack/kiln.yaml'))).toMatchObject({ code: 0 });
  });
});
