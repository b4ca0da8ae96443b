import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CACHE } from '../harness.js';
import { type RawEntry, rawTarGz } from '../tar-builder.js';
import { GatewayProcess } from './gateway-process.js';

/**
 * issue 8 §2: esbuild ran on the host, so a Node bundle that imported an absolute path
 * (also `with { type: 'bytes' }`), or a path through a chain of symlinks the bundle check
 * let through, bundled root-only host files, another function's env secret from the data
 * dir, and another function's code. Each attempt here goes through a real gateway
 * process; each must be refused, or leave the content out of the function layer.
 */
const runId = randomBytes(4).toString('hex');
const work = path.join(TEST_CACHE, 'runs', `node-containment-${runId}`);
const token = `token-${randomBytes(12).toString('hex')}`;
const secretFile = path.join(work, 'root-only', 'secret.txt');
const secret = `host-secret-${randomBytes(12).toString('hex')}`;
const victimSecret = `victim-env-${randomBytes(12).toString('hex')}`;
const victimCode = `victim-code-${randomBytes(12).toString('hex')}`;
let gateway: GatewayProcess;

beforeAll(async () => {
  await mkdir(path.dirname(secretFile), { recursive: true, mode: 0o700 });
  await writeFile(secretFile, secret, { mode: 0o600 });
  gateway = await GatewayProcess.start({ KILN_TOKEN: token });
  // The function whose data an attacker's bundle goes after: an env secret in
  // functions/victim.json, its code in a snapshot.
  const victim = rawTarGz([
    {
      path: 'index.mjs',
      body: `export default { fetch: () => new Response(${JSON.stringify(victimCode)}) };`,
    },
  ]);
  const res = await gateway.deploy(victim, {
    name: 'victim',
    runtime: 'node',
    env: JSON.stringify({ SECRET: victimSecret }),
  });
  expect(res.status, res.text).toBe(201);
  expect(await readFile(path.join(gateway.dataDir, 'functions/victim.json'), 'utf8')).toContain(victimSecret);
});

afterAll(async () => {
  await gateway?.remove();
  await rm(work, { recursive: true, force: true });
});

const victimJson = () => path.join(gateway.dataDir, 'functions/victim.json');
const importing = (spec: string, attrs = '') =>
  `import x from ${JSON.stringify(spec)}${attrs};\nexport default { fetch: () => new Response(String(x)) };`;

/** Deploy, then check: refused with a 4xx and a code, or deployed with none of the secrets in the layer. */
async function attempt(name: string, entries: RawEntry[]): Promise<{ status: number; code?: string }> {
  const res = await gateway.deploy(rawTarGz(entries), { name, runtime: 'node' });
  for (const s of [secret, victimSecret, victimCode, token]) expect(res.text).not.toContain(s);
  expect(res.status).toBeLessThan(500);
  if (res.status === 201) {
    const layer = await gateway.layerContent(String(res.body.layer));
    for (const s of [secret, victimSecret, victimCode, token]) expect(layer).not.toContain(s);
    return { status: 201 };
  }
  expect(res.status).toBeGreaterThanOrEqual(400);
  const code = (res.body.error as { code?: string } | undefined)?.code;
  expect(code).toMatch(/^[a-z_]+$/);
  return { status: res.status, code };
}

describe('imports that leave the bundle are refused', () => {
  it.each([
    ['an absolute import of a root-only host file', () => importing(secretFile)],
    ['an absolute import of it as text', () => importing(secretFile, ' with { type: "text" }')],
    ['an absolute import of it as bytes', () => importing(secretFile, ' with { type: "bytes" }')],
    ["an absolute import of another function's record (its env secret)", () => importing(victimJson())],
    ['the same as bytes', () => importing(victimJson(), ' with { type: "bytes" }')],
    ['a relative import climbing to the data dir', () => importing(`../../../../../../../..${victimJson()}`)],
    [
      'an absolute import of a file that exists in the builder (/etc/passwd) as bytes',
      () => importing('/etc/passwd', ' with { type: "bytes" }'),
    ],
    [
      'a require of /proc/1/environ',
      () => 'module.exports = { fetch: () => new Response(require("/proc/1/environ")) };',
    ],
  ])('%s', async (_what, code) => {
    const result = await attempt('attacker', [{ path: 'index.mjs', body: code() }]);
    expect(result).toMatchObject({ status: 400, code: 'build_failed' });
  });
});

describe('links that leave the bundle are refused before anything is built', () => {
  it.each([
    ['a symlink to the data dir', () => [{ path: 'data', type: 'SymbolicLink', linkpath: gateway.dataDir }]],
    [
      "a symlink to another function's record",
      () => [{ path: 'v.json', type: 'SymbolicLink', linkpath: victimJson() }],
    ],
    [
      'a chain: d → ., u → d/.., x → u/…',
      () => [
        { path: 'd', type: 'SymbolicLink', linkpath: '.' },
        { path: 'u', type: 'SymbolicLink', linkpath: 'd/..' },
        { path: 'x', type: 'SymbolicLink', linkpath: 'u/functions/victim.json' },
      ],
    ],
    [
      'a longer chain through dirs: a/b/c, s → a/b/c, up → s/../../../..',
      () => [
        { path: 'a/b/c', type: 'Directory' },
        { path: 's', type: 'SymbolicLink', linkpath: 'a/b/c' },
        { path: 'up', type: 'SymbolicLink', linkpath: 's/../../../..' },
      ],
    ],
    ['a hardlink to a host path', () => [{ path: 'h', type: 'Link', linkpath: '../../../etc/shadow' }]],
    [
      'a symlink with a backslash path',
      () => [{ path: 'w', type: 'SymbolicLink', linkpath: '..\\..\\functions' }],
    ],
  ] as [string, () => RawEntry[]][])('%s', async (_what, links) => {
    const entries: RawEntry[] = [{ path: 'index.mjs', body: importing('./x') }, ...links()];
    const result = await attempt('linker', entries);
    expect(result.status).toBe(400);
    expect(['unsafe_link', 'unsafe_path']).toContain(result.code);
  });
});

it('the victim still serves its own code, and nothing was added to it', async () => {
  const res = await fetch(`${gateway.url}/fn/victim/`);
  expect(await res.text()).toBe(victimCode);
  expect(res.headers.get('x-kiln-version')).toBe('1');
});
