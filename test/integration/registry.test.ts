import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../../src/gateway/server.js';
import { ImageStore } from '../../src/image/image-store.js';
import { CredentialStore } from '../../src/image/registry/credentials.js';
import { gunzipDigest } from '../../src/image/registry/pull.js';
import { Registries } from '../../src/image/registry/registries.js';
import type { ImageConfig, Manifest } from '../../src/image/types.js';
import { Kiln } from '../../src/kiln.js';
import { deployDir, EXAMPLES, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';
import {
  type CountingProxy,
  startCountingProxy,
  startRegistry,
  type TestRegistry,
} from '../registry-server.js';

let t: TestGateway;
let registry: TestRegistry;
let proxy: CountingProxy;
let home: string;
const cleanups: (() => Promise<void>)[] = [];

/** The built `kiln` binary, as a user runs it, on a data dir of the test's; never throws. */
function kiln(dataDir: string, args: string[], input?: string) {
  return runKiln(t.url, args, { stdin: input, env: { KILN_DATA: dataDir, HOME: home } });
}

/** A data dir of its own (no shared image store): the "other machine". */
async function emptyDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join('/var/tmp', 'kiln-pull-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every blob in a store hashes to its name. */
async function expectBlobsIntact(imagesDir: string): Promise<number> {
  const dir = path.join(imagesDir, 'blobs/sha256');
  const names = await readdir(dir);
  for (const hex of names) {
    const hash = createHash('sha256')
      .update(await readFile(path.join(dir, hex)))
      .digest('hex');
    expect(hash).toBe(hex);
  }
  return names.length;
}

function uploads(requests: string[]): string[] {
  return requests.filter((r) => /^(POST|PATCH|PUT) \/v2\/[^ ]+\/blobs\/uploads/.test(r));
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'kiln-home-'));
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.host);
  t = await startTestGateway();
  const deployed = await deployDir(t.url, path.join(EXAMPLES, 'hello-python'));
  expect(deployed.status).toBe(201);
});

afterAll(async () => {
  await t?.close();
  await proxy?.close();
  await registry?.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
  await rm(home, { recursive: true, force: true });
});

describe('shipping images through a registry', () => {
  it('pushes, pulls into an empty data dir with every digest intact, deploys the pulled image and invokes it', {
    timeout: 600_000,
  }, async () => {
    const ref = `${proxy.host}/fns/hello:v1`;
    const pushed = await kiln(t.dataDir, ['push', 'hello-python', ref]);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const digest = /: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)![1]!;
    expect(uploads(proxy.requests).length).toBeGreaterThan(0);

    // The manifest as the registry holds it: gzip layers, the config's diff_ids the tars'.
    const res = await fetch(`http://${registry.host}/v2/fns/hello/manifests/v1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    const manifest = (await res.json()) as Manifest;
    expect(manifest.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip')).toBe(
      true,
    );

    // A second push compresses nothing and uploads nothing.
    const before = proxy.requests.length;
    const again = await kiln(t.dataDir, ['push', 'hello-python', ref]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/0 blobs uploaded/);
    expect(uploads(proxy.requests.slice(before))).toEqual([]);

    // Another repository of the same registry: every blob is mounted, none uploaded.
    const copy = await kiln(t.dataDir, ['push', 'hello-python', `${proxy.host}/other/hello:v1`]);
    expect(copy.code).toBe(0);
    expect(copy.stdout).toMatch(/0 blobs uploaded, 0 already there, \d+ mounted/);

    const other = await emptyDataDir();
    const pulled = await kiln(other, ['pull', ref]);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain(digest);
    const store = new ImageStore(path.join(other, 'images'));
    expect((await store.resolve(ref))?.digest).toBe(digest);
    expect(await expectBlobsIntact(store.root)).toBe(manifest.layers.length + 2);
    const image = await store.getImage(digest);
    const config = image.config as ImageConfig;
    for (const [i, layer] of image.manifest.layers.entries()) {
      expect(await gunzipDigest(store.blobPath(layer.digest))).toBe(config.rootfs.diff_ids[i]);
    }
    // An image that stands alone: history per layer, labels, the handler in Env.
    expect(config.history?.filter((h) => !h.empty_layer)).toHaveLength(image.manifest.layers.length);
    expect(config.config.Labels).toMatchObject({
      'dev.kiln.runtime': 'python',
      'dev.kiln.function': 'hello-python',
      'org.opencontainers.image.title': 'hello-python',
    });
    expect(config.config.Env).toContain('AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128');
    expect(config.config.Env).toContain('KILN_FUNCTION=hello-python');

    // The other machine deploys the pulled image and serves it.
    const kiln2 = await Kiln.open({ dataDir: other, stemCells: 0 });
    const gateway2 = await startGateway(kiln2, '127.0.0.1', 0);
    try {
      const deploy = await fetch(`${gateway2.url}/functions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ image: ref, name: 'shipped' }),
      });
      expect(deploy.status).toBe(201);
      const invoked = await fetch(`${gateway2.url}/fn/shipped/x?name=ship`);
      expect(invoked.status).toBe(200);
      expect(await invoked.text()).toMatch(/^Hello, ship! \(python 3\.11\.\d+, path \/x\)\n$/);
      expect(kiln2.functions.active('shipped').image).toBe(digest);
    } finally {
      await gateway2.close();
      await kiln2.close();
    }
  });

  it('deploys by --image through the CLI, and refuses an image that is not a Kiln function', {
    timeout: 300_000,
  }, async () => {
    const ref = `${proxy.host}/fns/hello:v1`;
    const deployed = await kiln(t.dataDir, ['deploy', '--image', ref, '--name', 'from-image']);
    expect(deployed.stderr).toBe('');
    expect(deployed.code).toBe(0);
    expect(await fetch(`${t.url}/fn/from-image/?name=cli`).then((r) => r.text())).toMatch(/^Hello, cli!/);

    // The python base image has no function labels.
    const base = (await t.kiln.images.resolve('kiln/python:latest'))!;
    await new Registries(t.kiln.images).push(base.digest, `${proxy.host}/base/python:1`);
    const refused = await fetch(`${t.url}/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: `${proxy.host}/base/python:1`, name: 'nope' }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('not_a_kiln_image');
  });

  it('with Basic auth: a push without credentials fails naming the registry; after kiln login it works, in chunks', {
    timeout: 300_000,
  }, async () => {
    const secured = await startRegistry({ user: 'ship', password: 's3cret' });
    cleanups.push(() => secured.stop());
    const counted = await startCountingProxy(secured.host);
    cleanups.push(() => counted.close());
    const ref = `${counted.host}/fns/hello:v1`;

    const refused = await kiln(t.dataDir, ['push', 'hello-python', ref]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(counted.host);
    expect(refused.stderr).toContain('kiln login');

    const wrong = await kiln(t.dataDir, ['login', counted.host, '-u', 'ship', '--password-stdin'], 'nope\n');
    expect(wrong.code).not.toBe(0);
    const login = await kiln(
      t.dataDir,
      ['login', counted.host, '-u', 'ship', '--password-stdin'],
      's3cret\n',
    );
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    const authFile = path.join(home, '.config/kiln/auth.json');
    expect((await stat(authFile)).mode & 0o777).toBe(0o600);

    // In process, with the credentials kiln login stored, in 1 MiB chunks.
    const credentials = new CredentialStore({
      kiln: authFile,
      docker: path.join(home, '.docker/config.json'),
    });
    const registries = new Registries(t.kiln.images, credentials);
    const result = await registries.push(t.kiln.functions.active('hello-python').image, ref, {
      chunkSize: 1 << 20,
    });
    expect(result.uploaded).toBeGreaterThan(0);
    expect(counted.requests.filter((r) => r.startsWith('PATCH ')).length).toBeGreaterThan(result.uploaded);

    const other = await emptyDataDir();
    const otherStore = new ImageStore(path.join(other, 'images'));
    await otherStore.init();
    const pulled = await new Registries(otherStore, credentials).pull(ref);
    expect(pulled.manifest.digest).toBe(result.digest);
    await expectBlobsIntact(otherStore.root);
  });

  it('refuses a blob whose content does not match its digest, and stores nothing', {
    timeout: 300_000,
  }, async () => {
    const manifest = (await (
      await fetch(`http://${registry.host}/v2/fns/hello/manifests/v1`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as Manifest;
    // The function layer, changed in the registry's storage behind its back (same length).
    const hex = manifest.layers[manifest.layers.length - 1]!.digest.slice(7);
    const data = path.join(registry.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = await readFile(data);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
    await writeFile(data, bytes);

    const other = await emptyDataDir();
    const pulled = await kiln(other, ['pull', `${proxy.host}/fns/hello:v1`]);
    expect(pulled.code).not.toBe(0);
    expect(pulled.stderr).toMatch(/digest_mismatch/);
    expect(await readdir(path.join(other, 'images/blobs/sha256'))).toEqual([]);
    expect(await readdir(path.join(other, 'images/ingest'))).toEqual([]);
    expect(JSON.parse(await readFile(path.join(other, 'images/index.json'), 'utf8')).manifests).toEqual([]);
  });

  it('refuses a manifest with a layer media type it does not know, before downloading anything', async () => {
    const layer = Buffer.from('not a tar');
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    );
    const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    for (const blob of [layer, config]) {
      const start = await fetch(`http://${registry.host}/v2/odd/thing/blobs/uploads/`, { method: 'POST' });
      const location = new URL(start.headers.get('location')!, `http://${registry.host}`);
      location.searchParams.set('digest', sha(blob));
      const put = await fetch(location, {
        method: 'PUT',
        body: blob,
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(put.status).toBe(201);
    }
    const odd = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha(config),
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.example.layer.v1+weird', digest: sha(layer), size: layer.length },
      ],
    };
    const put = await fetch(`http://${registry.host}/v2/odd/thing/manifests/v1`, {
      method: 'PUT',
      headers: { 'content-type': odd.mediaType },
      body: JSON.stringify(odd),
    });
    expect(put.status).toBe(201);
    const other = await emptyDataDir();
    const pulled = await kiln(other, ['pull', `${registry.host}/odd/thing:v1`]);
    expect(pulled.code).not.toBe(0);
    expect(pulled.stderr).toContain('application/vnd.example.layer.v1+weird');
    expect(pulled.stderr).toContain('unsupported_media_type');
    expect(await readdir(path.join(other, 'images/blobs/sha256'))).toEqual([]);
  });
});
