import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDir } from '../../src/build/pack-dir.js';
import {
  deployBytes,
  deployDir,
  EXAMPLES,
  FIXTURES,
  startTestGateway,
  type TestGateway,
  untrackedContainers,
} from '../harness.js';
import { rawTarGz } from '../tar-builder.js';

let t: TestGateway;
let scratch: string;
let good: Buffer;

beforeAll(async () => {
  t = await startTestGateway();
  scratch = await mkdtemp(path.join(tmpdir(), 'kiln-bad-'));
  good = await packDir(path.join(EXAMPLES, 'hello-node'));
  // The function every failed redeploy below must leave serving.
  expect((await deployBytes(t.url, good, { name: 'keeper', runtime: 'node' })).status).toBe(201);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
  await t?.close();
});

async function keeperStillServes(): Promise<void> {
  const res = await fetch(`${t.url}/fn/keeper/`);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-kiln-version')).toBe('1');
  expect(await res.text()).toContain('Hello, world!');
  expect(t.kiln.functions.get('keeper').versions).toHaveLength(1);
}

const file = (p: string, body = 'export default 1') => ({ path: p, body });

describe('bad deploys get a 4xx JSON error with a code and change nothing', () => {
  it.each([
    [
      'missing name (none in the query, none in kiln.json)',
      { runtime: 'node' },
      () => rawTarGz([file('index.mjs', 'export default { fetch: () => new Response("x") }')]),
      400,
      'missing_name',
    ],
    ['name with capitals', { name: 'Keeper', runtime: 'node' }, () => good, 400, 'invalid_name'],
    ['name with an underscore', { name: 'kee_per', runtime: 'node' }, () => good, 400, 'invalid_name'],
    ['name longer than 63', { name: 'k'.repeat(64), runtime: 'node' }, () => good, 400, 'invalid_name'],
    ['unknown runtime', { name: 'keeper', runtime: 'cobol' }, () => good, 400, 'unknown_runtime'],
    [
      'a body that is not a gzip tar',
      { name: 'keeper', runtime: 'node' },
      () => Buffer.from('{"not":"a tar"}'),
      400,
      'invalid_bundle',
    ],
    ['an empty body', { name: 'keeper', runtime: 'node' }, () => Buffer.alloc(0), 400, 'invalid_bundle'],
    [
      'a tar entry with ..',
      { name: 'keeper', runtime: 'node' },
      () => rawTarGz([file('../index.mjs')]),
      400,
      'unsafe_path',
    ],
    [
      'an absolute path',
      { name: 'keeper', runtime: 'node' },
      () => rawTarGz([file('/index.mjs')]),
      400,
      'unsafe_path',
    ],
    [
      'a symlink pointing outside',
      { name: 'keeper', runtime: 'node' },
      () => rawTarGz([{ path: 'index.mjs', type: 'SymbolicLink', linkpath: '/etc/passwd' }]),
      400,
      'unsafe_link',
    ],
    [
      'a hardlink pointing outside',
      { name: 'keeper', runtime: 'node' },
      () => rawTarGz([{ path: 'index.mjs', type: 'Link', linkpath: '../../etc/passwd' }]),
      400,
      'unsafe_link',
    ],
    [
      'a device node',
      { name: 'keeper', runtime: 'node' },
      () => rawTarGz([file('index.mjs'), { path: 'null', type: 'CharacterDevice' }]),
      400,
      'unsafe_entry',
    ],
    [
      'a missing entry file',
      { name: 'keeper', runtime: 'node' },
      () => rawTarGz([file('readme.txt', 'hi')]),
      400,
      'entry_not_found',
    ],
    [
      'a handler naming a missing file',
      { name: 'keeper', runtime: 'node', handler: 'nope.handler' },
      () => good,
      400,
      'entry_not_found',
    ],
    [
      'a bad memory setting',
      { name: 'keeper', runtime: 'node', memoryMb: 'lots' },
      () => good,
      400,
      'invalid_spec',
    ],
  ] as const)('%s', async (_what, query, body, status, code) => {
    const res = await deployBytes(t.url, body(), query as Record<string, string>);
    expect(res.status).toBe(status);
    expect(res.body.error?.code).toBe(code);
    expect(res.body.error?.message).toBeTruthy();
    await keeperStillServes();
  });

  it('a bundle over the size limit gets 413', async () => {
    const big = path.join(scratch, 'big');
    await mkdir(big);
    await writeFile(path.join(big, 'index.mjs'), 'export default { fetch: () => new Response("x") }');
    // Random bytes do not compress, so the body itself is over the limit.
    const { randomBytes } = await import('node:crypto');
    await writeFile(path.join(big, 'blob.bin'), randomBytes(65 * 1024 * 1024));
    const res = await deployDir(t.url, big, { name: 'keeper', runtime: 'node' });
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe('bundle_too_large');
    await keeperStillServes();
  });

  it('a handler module that throws at load: 400 handler_load_failed with its message', async () => {
    const res = await deployDir(t.url, path.join(FIXTURES, 'throws-at-load'), {
      name: 'keeper',
      runtime: 'node',
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('handler_load_failed');
    expect(res.body.error?.message).toContain('this module fails while loading');
    expect(res.body.error?.message).toContain('index.mjs');
    await keeperStillServes();
  });

  it('a module with no handler export: 400 handler_not_found', async () => {
    const res = await deployDir(t.url, path.join(FIXTURES, 'no-export'), { name: 'keeper', runtime: 'node' });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('handler_not_found');
    await keeperStillServes();
  });

  it('a TypeScript syntax error: 400 build_failed with the place', async () => {
    const dir = path.join(scratch, 'syntax');
    await mkdir(dir);
    await writeFile(path.join(dir, 'index.ts'), 'export default { fetch( };');
    const res = await deployDir(t.url, dir, { name: 'keeper', runtime: 'node' });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('build_failed');
    expect(res.body.error?.message).toContain('index.ts:1');
    await keeperStillServes();
  });

  it('leaves no instance of a failed version running', async () => {
    const { instances } = (await (await fetch(`${t.url}/instances`)).json()) as {
      instances: { function: string; version: number }[];
    };
    const keeper = instances.filter((i) => i.function === 'keeper');
    // The keeper served every check above, so its instance is there, and it is version 1.
    expect(keeper.length).toBeGreaterThan(0);
    expect(keeper.map((i) => i.version)).toEqual(keeper.map(() => 1));
    // No trial start of a failed deploy left a container the pool does not know.
    expect(await untrackedContainers(t)).toEqual([]);
  });
});

describe('after a good redeploy', () => {
  it('serves the new version and stops the old one', async () => {
    const res = await deployDir(t.url, path.join(FIXTURES, 'hello-v2'), { name: 'keeper', runtime: 'node' });
    expect(res.status).toBe(201);
    expect(res.body.version).toBe(2);
    const served = await fetch(`${t.url}/fn/keeper/`);
    expect(await served.text()).toBe('version two\n');
    expect(served.headers.get('x-kiln-version')).toBe('2');
    const { instances } = (await (await fetch(`${t.url}/instances`)).json()) as {
      instances: { function: string; version: number }[];
    };
    expect(instances.filter((i) => i.function === 'keeper').map((i) => i.version)).toEqual([2]);
  });
});

describe('invoke errors', () => {
  it('an unknown function is a 404 function_not_found', async () => {
    const res = await fetch(`${t.url}/fn/nobody-here/`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('function_not_found');
  });

  it('a request body over 6 MiB is a 413 request_too_large', async () => {
    const res = await fetch(`${t.url}/fn/keeper/`, {
      method: 'POST',
      body: Buffer.alloc(7 * 1024 * 1024, 1),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    expect((await fetch(`${t.url}/fn/keeper/`)).status).toBe(200);
  });

  it('an unknown route is a 404 JSON error', async () => {
    const res = await fetch(`${t.url}/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});
