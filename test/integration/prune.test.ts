import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageLine } from '../../src/image/disk-usage.js';
import type { ImageListing, PruneReport } from '../../src/prune/image-pruner.js';
import type { SystemPruneReport } from '../../src/prune/system-prune.js';
import { deployDir, EXAMPLES, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

/**
 * Prune (issue 12): `kiln image prune` frees what `system df` called reclaimable and nothing a
 * function version uses; `kiln rmi` refuses an image a version uses, naming the function.
 * The gateway has an image store of its own (seeded from the shared cache by hard links), so
 * nothing this file removes is another file's.
 */
let t: TestGateway;

interface Df {
  images: UsageLine;
  snapshots: UsageLine;
  reclaimableBytes: number;
}

interface Version {
  version: number;
  image: string;
  layer: string;
}

async function df(): Promise<Df> {
  const out = await runKiln(t.url, ['system', 'df', '--json']);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as Df;
}

async function versionsOf(name: string): Promise<Version[]> {
  const res = await fetch(`${t.url}/functions/${name}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { versions: Version[] }).versions;
}

async function stopAllInstances(): Promise<void> {
  const { instances } = (await (await fetch(`${t.url}/instances`)).json()) as { instances: { id: string }[] };
  for (const i of instances) await fetch(`${t.url}/instances/${i.id}`, { method: 'DELETE' });
  await expect
    .poll(
      async () =>
        ((await (await fetch(`${t.url}/instances`)).json()) as { instances: unknown[] }).instances.length,
      {
        timeout: 20_000,
      },
    )
    .toBe(0);
}

beforeAll(async () => {
  t = await startTestGateway({ privateImages: /^kiln\/(os|node|lang-node|shim-node|builder-node)[:-]/ });
}, 600_000);
afterAll(async () => {
  await t?.close();
});

describe('image prune', () => {
  it('frees what system df called reclaimable and nothing in use', async () => {
    const v1 = await deployDir(t.url, path.join(EXAMPLES, 'hello-node'), { name: 'keep' });
    expect(v1.status, JSON.stringify(v1.body)).toBe(201);
    const v2 = await deployDir(t.url, path.join(FIXTURES, 'hello-v2'), { name: 'keep', runtime: 'node' });
    expect(v2.status, JSON.stringify(v2.body)).toBe(201);
    const gone = await deployDir(t.url, path.join(FIXTURES, 'probe'), { name: 'gone', runtime: 'node' });
    expect(gone.status, JSON.stringify(gone.body)).toBe(201);
    const [goneVersion] = await versionsOf('gone');
    if (!goneVersion) throw new Error('no version of gone');
    expect((await fetch(`${t.url}/functions/gone`, { method: 'DELETE' })).status).toBe(200);
    await stopAllInstances();

    const before = await df();
    expect(before.reclaimableBytes).toBeGreaterThan(0);
    const pruned = await runKiln(t.url, ['image', 'prune', '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    const report = JSON.parse(pruned.stdout) as PruneReport;
    expect(report.freedBytes).toBe(before.reclaimableBytes);
    expect(report.blobs.length).toBe(before.images.reclaimableCount);
    expect(report.snapshots.length).toBe(before.snapshots.reclaimableCount);
    expect(report.untagged).toEqual([]);

    const after = await df();
    expect(after.reclaimableBytes).toBe(0);
    expect(after.images.bytes).toBe(before.images.bytes - before.images.reclaimableBytes);
    expect(after.snapshots.bytes).toBe(before.snapshots.bytes - before.snapshots.reclaimableBytes);
    // The removed function's image, config and layer are gone, and its snapshot.
    const removed = await t.kiln.images.getImage(goneVersion.image).catch(() => undefined);
    expect(removed).toBeUndefined();
    expect(await t.kiln.images.has(goneVersion.layer)).toBe(false);
    expect(await t.kiln.snapshots.has(goneVersion.layer)).toBe(false);
    // Every version left starts cold from what is left and answers.
    const answer = async (ref: string) => (await fetch(`${t.url}/fn/${ref}/`)).text();
    expect(await answer('keep@1')).toMatch(/^Hello, world!/);
    expect(await answer('keep@2')).toBe('version two\n');
    expect(await answer('keep')).toBe('version two\n');
  }, 300_000);

  it('rmi refuses an image a version uses (its own or its base), naming the function', async () => {
    const [first] = await versionsOf('keep');
    if (!first) throw new Error('no version of keep');
    for (const name of [
      first.image,
      first.image.slice(7, 19),
      'kiln/node:latest',
      `fn/keep:${first.version}`,
    ]) {
      const res = await fetch(`${t.url}/images/${encodeURIComponent(name)}`, { method: 'DELETE' });
      expect(res.status, name).toBe(409);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('image_in_use');
      expect(body.error.message).toContain('keep');
    }
    const cli = await runKiln(t.url, ['rmi', 'kiln/node:latest']);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/image_in_use|used by function keep/);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    const missing = await fetch(`${t.url}/images/${encodeURIComponent('nothing/here:1')}`, {
      method: 'DELETE',
    });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('image_not_found');
    const badFlag = await fetch(`${t.url}/images/prune?all=maybe`, { method: 'POST' });
    expect(badFlag.status).toBe(400);
  });

  it('GET /images and kiln images name the function versions that use each image', async () => {
    const res = await fetch(`${t.url}/images`);
    expect(res.status).toBe(200);
    const { images } = (await res.json()) as { images: ImageListing[] };
    const usedBy = (rows: ImageListing[], name: string) => rows.find((r) => r.name === name)?.usedBy;
    expect(usedBy(images, 'fn/keep:1')).toEqual([{ function: 'keep', versions: [1] }]);
    expect(usedBy(images, 'kiln/node:latest')).toEqual([{ function: 'keep', versions: [1, 2] }]);
    expect(usedBy(images, 'kiln/builder-node:latest')).toEqual([]);
    // The CLI reads the data dir itself, as the other image commands do.
    const cli = await runKiln(undefined, ['images', '--json'], { env: { KILN_DATA: t.dataDir } });
    expect(cli.code, cli.stderr).toBe(0);
    const local = JSON.parse(cli.stdout) as ImageListing[];
    expect(usedBy(local, 'fn/keep:2')).toEqual([{ function: 'keep', versions: [2] }]);
    expect(local.map((r) => r.name)).toEqual(images.map((r) => r.name));
  });

  it('rmi removes an image no version uses, and what only it held', async () => {
    // A pulled or loaded image no function runs: here the node builder, tagged under a second name too.
    const builder = await t.kiln.images.resolve('kiln/builder-node:latest');
    if (!builder) throw new Error('no node builder in the seeded store');
    const extra = await t.kiln.images.putBytes(
      `{"prune-test":${Date.now()}}`,
      'application/vnd.oci.image.config.v1+json',
    );
    const manifest = await t.kiln.images.putBytes(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: extra,
        layers: (await t.kiln.images.getImage(builder.digest)).manifest.layers,
      }),
      'application/vnd.oci.image.manifest.v1+json',
    );
    await t.kiln.images.tag('localhost/side:1', manifest);
    const out = await runKiln(t.url, ['rmi', '--json', 'localhost/side:1']);
    expect(out.code, out.stderr).toBe(0);
    const [report] = JSON.parse(out.stdout) as (PruneReport & { image: string })[];
    expect(report?.untagged).toEqual(['localhost/side:1']);
    // Its manifest and config went; its layers are the builder's, which keeps them.
    expect(report?.blobs.map((b) => b.digest).sort()).toEqual([extra.digest, manifest.digest].sort());
    expect(await t.kiln.images.resolve('localhost/side:1')).toBeUndefined();
    for (const layer of (await t.kiln.images.getImage(builder.digest)).manifest.layers)
      expect(await t.kiln.images.has(layer.digest)).toBe(true);
  });

  it("system prune also removes logs no function owns and dead writers' ingest files", async () => {
    // One log segment of a function that is gone (a crash between removing it and its logs), one of keep.
    for (const fn of ['ghost', 'keep']) {
      await mkdir(path.join(t.dataDir, 'logs', fn), { recursive: true });
      await writeFile(path.join(t.dataDir, 'logs', fn, '0.jsonl'), `${JSON.stringify({ line: 'a line' })}\n`);
    }
    // Named like an ingest file of a writer that is gone (pids are below 2^22 on Linux).
    await writeFile(path.join(t.dataDir, 'images', 'ingest', '99999999-deadbeef'), 'half a blob');
    const out = await runKiln(t.url, ['system', 'prune', '--json']);
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as SystemPruneReport;
    expect(report.logs.functions).toEqual(['ghost']);
    expect(report.debris.ingestFiles).toBe(1);
    expect(report.freedBytes).toBe(report.images.freedBytes + report.logs.bytes + report.debris.bytes);
    expect(await readdir(path.join(t.dataDir, 'logs'))).not.toContain('ghost');
    expect(await readdir(path.join(t.dataDir, 'images', 'ingest'))).not.toContain('99999999-deadbeef');
    // keep's logs stay, and it still answers.
    expect(await readdir(path.join(t.dataDir, 'logs'))).toContain('keep');
    expect(await (await fetch(`${t.url}/fn/keep/`)).text()).toBe('version two\n');
  });

  it('prune --all untags what no function needs and keeps the base and builder of languages in use', async () => {
    const out = await runKiln(t.url, ['image', 'prune', '--all', '--json']);
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as PruneReport;
    for (const ref of report.untagged)
      expect(ref).not.toMatch(/^fn\/keep:|^kiln\/node:latest$|^kiln\/builder-node:latest$/);
    expect(await t.kiln.images.resolve('kiln/node:latest')).toBeDefined();
    expect(await t.kiln.images.resolve('kiln/builder-node:latest')).toBeDefined();
    // A deploy after it builds on what is left.
    const again = await deployDir(t.url, path.join(EXAMPLES, 'hello-node'), { name: 'after' });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(await (await fetch(`${t.url}/fn/after/`)).text()).toMatch(/^Hello, world!/);
    expect(await (await fetch(`${t.url}/fn/keep@1/`)).text()).toMatch(/^Hello, world!/);
  }, 120_000);
});
