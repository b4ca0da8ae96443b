import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT } from '../harness.js';

const execFileP = promisify(execFile);
const PROGRAM = path.join(ROOT, 'runtimes/node/build/build.mjs');

/**
 * Kiln's node build program (runtimes/node/build/), run as a plain process on Kiln's own
 * fixtures: its rules, fast. In a deploy it runs only in the node builder container
 * (test/containment and test/integration deploy through it).
 */
let dir: string;
let src: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-nodebuild-'));
  src = path.join(dir, 'src');
  await mkdir(src);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function files(map: Record<string, string>): Promise<void> {
  for (const [p, body] of Object.entries(map)) {
    await mkdir(path.dirname(path.join(src, p)), { recursive: true });
    await writeFile(path.join(src, p), body);
  }
}

interface Result {
  ok: boolean;
  code?: string;
  message?: string;
  handler?: string;
  entry?: string;
  externals?: string[];
}

async function build(job: { handler?: string; bundle?: boolean } = {}): Promise<Result> {
  const out = path.join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const jobDir = path.join(dir, 'job');
  await mkdir(out);
  await mkdir(jobDir, { recursive: true });
  await writeFile(path.join(jobDir, 'job.json'), JSON.stringify({ bundle: true, ...job }));
  await execFileP(process.execPath, [PROGRAM], {
    env: { PATH: process.env.PATH, KILN_BUILD_SRC: src, KILN_BUILD_OUT: out, KILN_BUILD_JOB: jobDir },
  });
  lastOut = path.join(out, 'fn');
  return JSON.parse(await readFile(path.join(out, 'result.json'), 'utf8')) as Result;
}
let lastOut = '';

describe('the entry (Lambda handler strings, package.json main, index.*)', () => {
  it('reads file.export with any extension, and an entry file alone', async () => {
    await files({ 'app.js': 'exports.lambdaHandler = 1', 'src/lambda.ts': 'export const handler = 1' });
    expect(await build({ handler: 'app.lambdaHandler' })).toMatchObject({
      ok: true,
      handler: 'kiln.bundle.lambdaHandler',
      entry: 'app.js',
    });
    expect(await build({ handler: 'src/lambda.handler' })).toMatchObject({ entry: 'src/lambda.ts' });
    expect(await build({ handler: 'src/lambda' })).toMatchObject({
      entry: 'src/lambda.ts',
      handler: 'kiln.bundle.mjs',
    });
  });

  it('defaults to package.json main, then index.*', async () => {
    await files({ 'index.mjs': 'export default 1' });
    expect(await build()).toMatchObject({ entry: 'index.mjs' });
    await files({ 'package.json': '{"main":"./server.js"}', 'server.js': 'module.exports = 1' });
    expect(await build()).toMatchObject({ entry: 'server.js' });
  });

  it('says what is missing', async () => {
    expect(await build()).toMatchObject({ ok: false, code: 'entry_not_found' });
    expect(await build({ handler: 'nope.handler' })).toMatchObject({ ok: false, code: 'entry_not_found' });
    await files({ 'package.json': '{"main":"gone.js"}' });
    expect(await build()).toMatchObject({
      ok: false,
      code: 'entry_not_found',
      message: expect.stringContaining('gone.js'),
    });
    await files({ 'package.json': '{"main":' });
    expect(await build()).toMatchObject({ ok: false, code: 'invalid_bundle' });
  });

  it('keeps the layout: src/lambda.handler in a bundle of only src/', async () => {
    await files({ 'src/lambda.mjs': 'export const handler = async () => "from src"' });
    expect(await build({ handler: 'src/lambda.handler' })).toMatchObject({
      ok: true,
      entry: 'src/lambda.mjs',
    });
  });

  it('takes a lone top-level dir as the root only when the entry is not found otherwise', async () => {
    await files({ 'myfn/index.mjs': 'export default 1', 'myfn/data/x.json': '[1]' });
    expect(await build()).toMatchObject({ ok: true, entry: 'index.mjs' });
    expect(await readdir(lastOut)).toEqual(expect.arrayContaining(['data', 'kiln.bundle.mjs']));
  });
});

describe('bundling, confined to the bundle', () => {
  it('bundles TypeScript and its node_modules into one ESM file and copies assets', async () => {
    await files({
      'node_modules/greet/package.json': '{"name":"greet","main":"index.js"}',
      'node_modules/greet/index.js': 'exports.greet = (n) => "hi " + n;',
      'index.ts':
        'import { greet } from "greet";\nexport const handler = async (): Promise<string> => greet("ts");',
      'data/words.json': '["a"]',
    });
    expect(await build({ handler: 'index.handler' })).toMatchObject({
      ok: true,
      handler: 'kiln.bundle.handler',
    });
    const mod = await import(path.join(lastOut, 'kiln.bundle.mjs'));
    expect(await mod.handler()).toBe('hi ts');
    expect(await readFile(path.join(lastOut, 'data/words.json'), 'utf8')).toBe('["a"]');
    expect(await readdir(lastOut)).not.toContain('node_modules');
  });

  it('reports a syntax error as build_failed with the place', async () => {
    await files({ 'index.ts': 'export const x = ;' });
    expect(await build()).toMatchObject({
      ok: false,
      code: 'build_failed',
      message: expect.stringContaining('index.ts:1'),
    });
  });

  it.each([
    ['an absolute import', 'import x from "/etc/passwd";\nexport default x;'],
    [
      'an absolute import as bytes',
      'import x from "/etc/hostname" with { type: "bytes" };\nexport default x;',
    ],
    ['an absolute import as text', 'import x from "/etc/hostname" with { type: "text" };\nexport default x;'],
    ['a relative import climbing out', 'import x from "../../../../../../etc/passwd";\nexport default x;'],
    ['a require of an absolute path', 'module.exports = require("/etc/passwd");'],
  ])('refuses %s', async (_what, code) => {
    await files({ 'index.js': code });
    const result = await build();
    expect(result).toMatchObject({ ok: false, code: 'build_failed' });
    expect(result.message).toMatch(/outside the bundle|Could not resolve|No loader/);
  });

  it('refuses a symlink in the bundle that leads out', async () => {
    await files({ 'index.js': 'module.exports = require("./outside/secret.js");' });
    await mkdir(path.join(dir, 'elsewhere'));
    await writeFile(path.join(dir, 'elsewhere/secret.js'), 'module.exports = "SECRET-OUTSIDE"');
    await symlink('../elsewhere', path.join(src, 'outside'));
    const result = await build();
    expect(result).toMatchObject({
      ok: false,
      code: 'build_failed',
      message: expect.stringContaining('outside the bundle'),
    });
  });

  it('accepts bytes and text imports of files inside the bundle', async () => {
    await files({
      'index.mjs':
        'import b from "./data.bin" with { type: "bytes" };\nexport const handler = async () => b.length;',
      'data.bin': 'four',
    });
    expect(await build({ handler: 'index.handler' })).toMatchObject({ ok: true });
  });
});

describe('packages esbuild cannot bundle', () => {
  it('ships a package with a .node addon (and what it depends on) as files, external by name', async () => {
    await files({
      'node_modules/addon/package.json': '{"name":"addon","main":"index.js","dependencies":{"helper":"1"}}',
      'node_modules/addon/index.js': 'module.exports = require("./build/Release/addon.node");',
      'node_modules/addon/build/Release/addon.node': 'not really a shared object',
      'node_modules/helper/package.json': '{"name":"helper"}',
      'node_modules/helper/index.js': 'module.exports = 1',
      'node_modules/plain/package.json': '{"name":"plain"}',
      'node_modules/plain/index.js': 'module.exports = 2',
      'index.js':
        'const a = require("addon"); const p = require("plain"); exports.handler = async () => [a, p];',
    });
    const result = await build({ handler: 'index.handler' });
    expect(result).toMatchObject({ ok: true, externals: ['node_modules/addon', 'node_modules/helper'] });
    const code = await readFile(path.join(lastOut, 'kiln.bundle.mjs'), 'utf8');
    expect(code).toContain('require("addon")');
    expect(code).not.toContain('build/Release');
    expect((await readdir(path.join(lastOut, 'node_modules'))).sort()).toEqual(['addon', 'helper']);
    expect(await readFile(path.join(lastOut, 'node_modules/addon/build/Release/addon.node'), 'utf8')).toBe(
      'not really a shared object',
    );
  });
});

describe('bundle: false', () => {
  it('ships the files as they are and names the entry for the shim', async () => {
    await files({
      'src/lambda.js': 'exports.handler = async () => require("./dep.js");',
      'src/dep.js': 'module.exports = 7',
      'node_modules/x/index.js': '1',
      'kiln.json': '{}',
    });
    expect(await build({ handler: 'src/lambda.handler', bundle: false })).toMatchObject({
      ok: true,
      handler: 'src/lambda.handler',
      entry: 'src/lambda.js',
    });
    expect((await readdir(lastOut)).sort()).toEqual(['node_modules', 'src']);
  });

  it('refuses TypeScript, which Node would not run as it is', async () => {
    await files({ 'index.ts': 'export const handler = async (): Promise<number> => 1;' });
    expect(await build({ handler: 'index.handler', bundle: false })).toMatchObject({
      ok: false,
      code: 'build_failed',
    });
  });
});
