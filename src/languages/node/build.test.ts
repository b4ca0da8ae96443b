import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildNode, NODE_BUNDLE_FILE, resolveNodeEntry } from './build.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-nodebuild-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(`${dir}.out`, { recursive: true, force: true });
});

async function files(map: Record<string, string>): Promise<void> {
  for (const [p, body] of Object.entries(map)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), body);
  }
}

describe('resolveNodeEntry', () => {
  it('reads Lambda handler strings: file.export with any extension', async () => {
    await files({ 'app.js': '', 'src/lambda.ts': '' });
    expect(await resolveNodeEntry(dir, 'app.lambdaHandler')).toEqual({
      file: 'app.js',
      exportName: 'lambdaHandler',
    });
    expect(await resolveNodeEntry(dir, 'src/lambda.handler')).toEqual({
      file: 'src/lambda.ts',
      exportName: 'handler',
    });
  });

  it('takes an entry file named alone, with or without its extension', async () => {
    await files({ 'src/index.ts': '' });
    expect(await resolveNodeEntry(dir, 'src/index.ts')).toEqual({ file: 'src/index.ts' });
    expect(await resolveNodeEntry(dir, 'src/index')).toEqual({ file: 'src/index.ts' });
  });

  it('defaults to package.json main, then index.*', async () => {
    await files({ 'index.mjs': '' });
    expect(await resolveNodeEntry(dir)).toEqual({ file: 'index.mjs' });
    await files({ 'package.json': '{"main":"./server.js"}', 'server.js': '' });
    expect(await resolveNodeEntry(dir)).toEqual({ file: 'server.js' });
  });

  it('says what is missing', async () => {
    await expect(resolveNodeEntry(dir)).rejects.toMatchObject({ code: 'entry_not_found' });
    await expect(resolveNodeEntry(dir, 'nope.handler')).rejects.toMatchObject({ code: 'entry_not_found' });
    await files({ 'package.json': '{"main":"gone.js"}' });
    await expect(resolveNodeEntry(dir)).rejects.toMatchObject({
      code: 'entry_not_found',
      message: expect.stringContaining('gone.js'),
    });
  });
});

describe('buildNode', () => {
  it('bundles TypeScript and its node_modules into one ESM file and copies assets', async () => {
    await files({
      'node_modules/greet/package.json': '{"name":"greet","main":"index.js"}',
      'node_modules/greet/index.js': 'exports.greet = (n) => "hi " + n;',
      'index.ts':
        'import { greet } from "greet";\nexport const handler = async (): Promise<string> => greet("ts");',
      'data/words.json': '["a"]',
    });
    const out = `${dir}.out`;
    await mkdir(out);
    const build = await buildNode(dir, out, 'index.handler');
    expect(build).toEqual({ handler: 'kiln.bundle.handler', entry: 'index.ts' });
    const code = await readFile(path.join(out, NODE_BUNDLE_FILE), 'utf8');
    expect(code).toContain('"hi " + n');
    expect(await readFile(path.join(out, 'data/words.json'), 'utf8')).toBe('["a"]');
    const mod = await import(path.join(out, NODE_BUNDLE_FILE));
    expect(await mod.handler()).toBe('hi ts');
  });

  it('reports a syntax error as build_failed with the place', async () => {
    await files({ 'index.ts': 'export const x = ;' });
    const out = `${dir}.out`;
    await mkdir(out);
    await expect(buildNode(dir, out)).rejects.toMatchObject({
      code: 'build_failed',
      message: expect.stringContaining('index.ts:1'),
    });
  });
});
