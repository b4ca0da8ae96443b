import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/image/image-store.js';
import { deployDir, EXAMPLES, ROOT, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';
import { startPodman, type TestPodman } from '../podman.js';

const execFileP = promisify(execFile);

let t: TestGateway;
let podman: TestPodman | undefined;
let work: string;

function kiln(dataDir: string, ...args: string[]) {
  return runKiln(undefined, args, { env: { KILN_DATA: dataDir, HOME: work } });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** GET until the container's shim answers (it listens once the JVM or interpreter is up). */
async function getWhenUp(url: string, container: string): Promise<{ status: number; body: string }> {
  for (;;) {
    try {
      const res = await fetch(url);
      return { status: res.status, body: await res.text() };
    } catch {
      const state = (await podman!.run('inspect', '-f', '{{.State.Running}}', container)).trim();
      if (state !== 'true') throw new Error(`the container exited: ${await podman!.run('logs', container)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

beforeAll(async () => {
  work = await mkdtemp(path.join('/var/tmp', 'kiln-archive-'));
  podman = await startPodman();
  if (!podman)
    console.warn(
      'archive.test: podman is not installed (scripts/setup-host.sh installs it): podman round trips skipped',
    );
  t = await startTestGateway();
  for (const example of ['hello-python', 'hello-java']) {
    const deployed = await deployDir(t.url, path.join(EXAMPLES, example));
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  }
});

afterAll(async () => {
  await t?.close();
  await podman?.close();
  await rm(work, { recursive: true, force: true });
});

describe('OCI archives', () => {
  it('kiln save → podman load → podman run answers on $PORT, and Java maps its class-data archive', {
    timeout: 600_000,
  }, async (ctx) => {
    if (!podman) return ctx.skip();
    const archive = path.join(work, 'hello-java.tar');
    const saved = await kiln(t.dataDir, 'save', 'hello-java', '-o', archive);
    expect(saved.stderr).toBe('');
    expect(saved.code).toBe(0);
    expect(await podman.run('load', '-i', archive)).toMatch(/localhost\/hello-java:1/);
    const port = await freePort();
    const id = (
      await podman.run(
        'run',
        '-d',
        '--network',
        'host',
        // Rootful podman asks crun for RLIMIT_NOFILE 1048576 and RLIMIT_NPROC of its own
        // (containers.conf default_ulimits); in a container host without CAP_SYS_RESOURCE
        // that is above the hard limits and crun's setrlimit fails: ask for modest ones.
        '--ulimit',
        'nofile=4096:4096',
        '--ulimit',
        'nproc=16384:16384',
        '-e',
        `PORT=${port}`,
        // Java's unified logging says whether the shim's AppCDS archive mapped or why not.
        '-e',
        'JAVA_TOOL_OPTIONS=-Xlog:cds=info',
        'localhost/hello-java:1',
      )
    ).trim();
    const answer = await getWhenUp(`http://127.0.0.1:${port}/x?name=podman`, id);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(/Hello, podman!/);
    const logs = await podman.run('logs', id);
    expect(logs).not.toMatch(/\[warning\]\[cds/);
    expect(logs).not.toMatch(/mismatch|not the one used/i);
    expect(logs).toMatch(/Opened shared archive file|Mapped dynamic region/);
  });

  it('loads a podman-saved oci-archive, listed by its name', { timeout: 300_000 }, async (ctx) => {
    if (!podman) return ctx.skip();
    const rootfs = path.join(work, 'tiny.tar');
    await execFileP('tar', ['-C', path.join(ROOT, 'examples/hello-python'), '-cf', rootfs, '.']);
    await podman.run('import', rootfs, 'localhost/tiny:1');
    const archive = path.join(work, 'tiny-oci.tar');
    await podman.run('save', '--format', 'oci-archive', '-o', archive, 'localhost/tiny:1');
    const other = await mkdtemp(path.join(work, 'data-'));
    const loaded = await kiln(other, 'load', '-i', archive);
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(0);
    expect(loaded.stdout).toMatch(/loaded localhost\/tiny:1: sha256:/);
    const listed = await kiln(other, 'images');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^localhost\/tiny:1\s+[a-f0-9]{12}\s/m);
    const store = new ImageStore(path.join(other, 'images'));
    const found = await store.resolve('localhost/tiny:1');
    expect(found).toBeDefined();
    const image = await store.getImage(found!.digest);
    expect(image.manifest.layers).toHaveLength(1);
  });

  it('refuses a truncated archive and leaves nothing behind', { timeout: 300_000 }, async () => {
    const archive = path.join(work, 'cut.tar');
    expect((await kiln(t.dataDir, 'save', 'hello-python', '-o', archive)).code).toBe(0);
    const { size } = await stat(archive);
    await truncate(archive, Math.floor(size / 2));
    const other = await mkdtemp(path.join(work, 'data-'));
    const loaded = await kiln(other, 'load', '-i', archive);
    expect(loaded.code).not.toBe(0);
    expect(loaded.stderr).toMatch(/invalid_archive/);
    expect(await readdir(path.join(other, 'images/blobs/sha256'))).toEqual([]);
    expect(await readdir(path.join(other, 'tmp'))).toEqual([]);
    expect(JSON.parse(await readFile(path.join(other, 'images/index.json'), 'utf8')).manifests).toEqual([]);
  });

  it('a saved archive loads into another data dir as the same image', { timeout: 300_000 }, async () => {
    const archive = path.join(work, 'py.tar');
    const saved = await kiln(t.dataDir, 'save', 'hello-python', '-o', archive);
    expect(saved.code).toBe(0);
    const digest = /\((sha256:[a-f0-9]{64})\)/.exec(saved.stdout)![1];
    const other = await mkdtemp(path.join(work, 'data-'));
    const loaded = await kiln(other, 'load', '-i', archive);
    expect(loaded.code).toBe(0);
    expect(loaded.stdout).toContain(`loaded localhost/hello-python:1: ${digest}`);
    // Loaded into the gateway's own store, the image deploys as it is, by its loaded name.
    const here = await kiln(t.dataDir, 'load', '-i', archive);
    expect(here.stdout).toContain(`loaded localhost/hello-python:1: ${digest}`);
    const deploy = await fetch(`${t.url}/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: 'localhost/hello-python:1', name: 'from-archive' }),
    });
    expect(deploy.status, await deploy.clone().text()).toBe(201);
    const invoked = await fetch(`${t.url}/fn/from-archive/x?name=archive`);
    expect(invoked.status).toBe(200);
    expect(await invoked.text()).toMatch(/^Hello, archive! /);
  });
});
