import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/image/types.js';
import { deployDir, EXAMPLES, startTestGateway, type TestGateway } from '../harness.js';
import { type KilnRun, runKiln } from '../kiln-cli.js';
import { startRegistry, type TestRegistry } from '../registry-server.js';

/**
 * Issue 14: push and pull draw a progress bar per blob when stdout is a terminal, and print
 * only their one-line result when it is not (scripts, CI logs). The terminal is a real pty
 * (util-linux `script`), the registry a real `docker-registry` on 127.0.0.1.
 */
let t: TestGateway;
let registry: TestRegistry;
let home: string;
const dirs: string[] = [];

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'kiln-home-'));
  registry = await startRegistry();
  t = await startTestGateway();
  const deployed = await deployDir(t.url, path.join(EXAMPLES, 'hello-python'), { name: 'progress' });
  expect(deployed.status).toBe(201);
});
afterAll(async () => {
  await t?.close();
  await registry?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

const kiln = (dataDir: string, args: string[], tty: boolean) =>
  runKiln(t.url, args, { tty, env: { KILN_DATA: dataDir, HOME: home } });

async function emptyDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join('/var/tmp', 'kiln-progress-'));
  dirs.push(dir);
  return dir;
}

/** The blobs of a pushed image: config and layers, by digest. */
async function blobsOf(repo: string): Promise<string[]> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/v1`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  const manifest = (await res.json()) as Manifest;
  return [manifest.config, ...manifest.layers].map((d) => d.digest);
}

/** The escape that starts every ANSI sequence the bars draw with. */
const ESC = '\x1b';

/** Each blob's row redrawn to a full bar: `\e[2K<12 hex>  done  [====…] 12.3 MB/12.3 MB`. */
function expectBars(run: KilnRun, blobs: string[]): void {
  expect(run.code, run.stdout).toBe(0);
  for (const digest of blobs) {
    expect(run.stdout).toMatch(
      new RegExp(`\\x1b\\[2K${digest.slice(7, 19)}  done\\s+\\[={24}\\] ([\\d.]+ MB)/\\1\\r\\n`),
    );
  }
  // Rows are redrawn in place: the cursor goes back up over them.
  expect(run.stdout).toMatch(new RegExp(`${ESC}\\[\\d+A`));
}

/** Not a terminal: the result line alone, no escape sequences, no carriage returns, no bars. */
function expectPlain(run: KilnRun, line: RegExp): void {
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toBe('');
  expect(run.stdout).toMatch(line);
  expect(run.stdout.split('\n')).toEqual([expect.stringMatching(line), '']);
  expect(run.stdout).not.toContain(ESC);
  expect(run.stdout).not.toContain('\r');
  expect(run.stdout).not.toContain('[=');
}

describe('push and pull progress', () => {
  it('push: bars on a terminal, one plain line otherwise', { timeout: 300_000 }, async () => {
    const tty = await kiln(t.dataDir, ['push', 'progress', `${registry.host}/tty/hello:v1`], true);
    expectBars(tty, await blobsOf('tty/hello'));
    expect(tty.stdout).toMatch(/pushed progress version 1 to \S+: sha256:[0-9a-f]{64} \(\d+ blobs uploaded/);

    const plain = await kiln(t.dataDir, ['push', 'progress', `${registry.host}/plain/hello:v1`], false);
    expectPlain(plain, /^pushed progress version 1 to \S+\/plain\/hello:v1: sha256:[0-9a-f]{64} \(/);
  });

  it('pull: bars on a terminal, one plain line otherwise', { timeout: 300_000 }, async () => {
    const ref = `${registry.host}/tty/hello:v1`;
    const tty = await kiln(await emptyDataDir(), ['pull', ref], true);
    expectBars(tty, await blobsOf('tty/hello'));
    expect(tty.stdout).toMatch(/pulled \S+: sha256:[0-9a-f]{64} \(\d+ blobs downloaded/);

    const plain = await kiln(await emptyDataDir(), ['pull', ref], false);
    expectPlain(
      plain,
      /^pulled \S+\/tty\/hello:v1: sha256:[0-9a-f]{64} \(\d+ blobs downloaded, 0 already here\)/,
    );
  });
});
