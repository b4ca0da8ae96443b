import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { packDir } from '../src/build/pack-dir.js';
import { DataDir } from '../src/data-dir.js';
import { type RunningGateway, startGateway } from '../src/gateway/server.js';
import { markImages } from '../src/image/garbage-collection.js';
import { ImageStore } from '../src/image/image-store.js';
import { SnapshotStore } from '../src/image/snapshot-store.js';
import { REF_NAME } from '../src/image/types.js';
import { Kiln } from '../src/kiln.js';

const execFileP = promisify(execFile);

/** One cache of built base images shared by every test file (and kept between local runs). */
export const TEST_CACHE = process.env.KILN_TEST_CACHE || '/var/tmp/kiln-test-cache';
export const ROOT = path.resolve(import.meta.dirname, '..');
export const EXAMPLES = path.join(ROOT, 'examples');
export const FIXTURES = path.join(ROOT, 'test/fixtures');

export interface TestGateway {
  kiln: Kiln;
  gateway: RunningGateway;
  url: string;
  dataDir: string;
  /** A dir beside the data dir for the test's function sources (made by the test), removed with it. */
  srcDir: string;
  /** Stop the gateway and its instances; the data dir and `srcDir` go too unless `keepData` (a restart follows). */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * A real gateway on a free port over a fresh data dir whose image store and snapshots
 * are the shared cache's (symlinked, same filesystem, so renames into them stay atomic).
 */
export async function startTestGateway(
  options: {
    stemCells?: number;
    /** a data dir an earlier test gateway kept */
    dataDir?: string;
    /** the control-plane token (none by default: `kiln serve` makes one, these in-process gateways do not) */
    token?: string;
    /**
     * An image store of its own, seeded with the shared cache's images whose refs match
     * (blobs hard-linked, snapshots copied as hard links): for a test that prunes or
     * removes images, which must not touch what other test files use.
     */
    privateImages?: RegExp;
  } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? path.join(TEST_CACHE, 'runs', randomBytes(4).toString('hex'));
  if (!options.dataDir && options.privateImages) await seedPrivateImages(dataDir, options.privateImages);
  else if (!options.dataDir) await new DataDir(dataDir).shareImagesOf(new DataDir(TEST_CACHE));
  const kiln = await Kiln.open({ dataDir, stemCells: options.stemCells ?? 0 });
  const gateway = await startGateway(kiln, '127.0.0.1', 0, { token: options.token });
  return {
    kiln,
    gateway,
    url: gateway.url,
    dataDir,
    srcDir: `${dataDir}-src`,
    close: async ({ keepData = false } = {}) => {
      await gateway.close();
      await kiln.close();
      if (keepData) return;
      await rm(dataDir, { recursive: true, force: true });
      await rm(`${dataDir}-src`, { recursive: true, force: true });
    },
  };
}

/**
 * Give `dataDir` an image store holding the shared cache's refs that match `refs` and what
 * they reach. Blobs are hard links and snapshots `cp -al` copies (same filesystem): nothing
 * is written twice, and removing them here unlinks only this store's names.
 */
async function seedPrivateImages(dataDir: string, refs: RegExp): Promise<void> {
  const cache = new DataDir(TEST_CACHE);
  const data = new DataDir(dataDir);
  const from = new ImageStore(cache.images);
  const to = new ImageStore(data.images);
  await to.init();
  await mkdir(data.snapshots, { recursive: true });
  const fromSnapshots = new SnapshotStore(cache.snapshots);
  const toSnapshots = new SnapshotStore(data.snapshots);
  const entries = (await from.readIndex()).manifests.filter((m) =>
    refs.test(m.annotations?.[REF_NAME] ?? ''),
  );
  const reached = await markImages(from, { manifests: entries.map((e) => e.digest) });
  for (const digest of reached) {
    if (await from.has(digest)) await link(from.blobPath(digest), to.blobPath(digest));
    if (await fromSnapshots.has(digest))
      await execFileP('cp', ['-al', fromSnapshots.path(digest), toSnapshots.path(digest)]);
  }
  for (const e of entries) await to.tag(e.annotations?.[REF_NAME] ?? '', e);
}

/**
 * Containers the OCI runtime runs for this gateway that the pool does not know of (neither
 * an instance nor a ready stem cell): a leak. Containers still starting are not yet known
 * to either, so call this when no start is in flight.
 */
export async function untrackedContainers(t: TestGateway): Promise<string[]> {
  const known = new Set([
    ...(await t.kiln.pool.list()).map((i) => i.id),
    ...(await t.kiln.pool.listStemCells()).map((c) => c.id),
  ]);
  return (await t.kiln.runtime.driver.list()).filter((id) => !known.has(id));
}

export interface DeployResponse {
  status: number;
  body: {
    function?: { name: string; version: number };
    version?: number;
    layer?: string;
    layerReused?: boolean;
    error?: { code: string; message: string };
  };
}

/** POST a function dir the way the README's curl does: gzip tar body, spec in the query. */
export async function deployDir(
  url: string,
  dir: string,
  query: Record<string, string> = {},
): Promise<DeployResponse> {
  return deployBytes(url, await packDir(dir), query);
}

export async function deployBytes(
  url: string,
  bundle: Uint8Array,
  query: Record<string, string> = {},
): Promise<DeployResponse> {
  const res = await fetch(`${url}/functions?${new URLSearchParams(query)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/gzip' },
    body: bundle as unknown as BodyInit,
  });
  return { status: res.status, body: (await res.json()) as DeployResponse['body'] };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built `kiln` binary against gateway `url` the way a user does; never throws, gives the exit code. */
export async function runKiln(url: string, args: string[]): Promise<CliRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'dist/cli/main.js'), ...args],
      { env: { PATH: process.env.PATH, KILN_URL: url } },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A control-plane call with a JSON body, and the JSON it answers. */
export async function controlCall(
  url: string,
  method: string,
  p: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON the gateway answers
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${p}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** How many versions each function has, by name (`GET /functions`). */
export async function versionCounts(url: string): Promise<Record<string, number>> {
  const { functions } = (await (await fetch(`${url}/functions`)).json()) as {
    functions: { name: string; versions: number }[];
  };
  return Object.fromEntries(functions.map((f) => [f.name, f.versions]));
}
