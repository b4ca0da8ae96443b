import { cp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_VOLUME_UID } from '../../src/volumes/volume-owner.js';
import { controlCall, deployDir, runKiln, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Named volumes (issue 12) through real gateways and containers under crun: what one
 * instance writes the next one (another uid) reads and appends to, across a redeploy and a
 * gateway restart; a read-only mount refuses writes with EROFS; `volume rm` refuses while a
 * function uses the volume; bad names and paths are 4xx; a function with volumes starts cold
 * even when a stem cell is ready.
 */
let t: TestGateway;
let work: string;

/**
 * A node function that appends `?write=` to `<dir>/notes/log.txt` (making `notes/` on the first
 * write) and answers the file, its owner as the instance sees it, and the instance's uid.
 */
async function notesDir(): Promise<string> {
  const dir = path.join(work, 'notes');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'index.mjs'),
    `import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
export default { fetch: (req) => {
  const url = new URL(req.url);
  const dir = url.searchParams.get('dir') ?? '/data';
  const write = url.searchParams.get('write');
  if (write !== null) {
    try {
      mkdirSync(dir + '/notes', { recursive: true });
      appendFileSync(dir + '/notes/log.txt', write + '\\n');
    } catch (e) {
      return Response.json({ error: e.code, uid: process.getuid() });
    }
  }
  try {
    const file = dir + '/notes/log.txt';
    return Response.json({ content: readFileSync(file, 'utf8'), owner: statSync(file).uid, uid: process.getuid() });
  } catch (e) {
    return Response.json({ error: e.code, uid: process.getuid() });
  }
} };\n`,
  );
  return dir;
}

interface Notes {
  content?: string;
  owner?: number;
  uid: number;
  error?: string;
}

async function notes(base: string, fn: string, query = ''): Promise<Notes> {
  const res = await fetch(`${base}/fn/${fn}/${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Notes;
}

const control = (method: string, p: string, body?: unknown) => controlCall(t.url, method, p, body);
const kiln = (...args: string[]) => runKiln(t.url, args);

/** Stop every instance of `fn` and wait until the pool has none: the next request starts a new one. */
async function scaleToZero(g: TestGateway, fn: string): Promise<void> {
  for (const i of await g.kiln.pool.list()) if (i.function === fn) await g.kiln.pool.stop(i.id);
  await expect
    .poll(async () => (await g.kiln.pool.list()).filter((i) => i.function === fn).length, { timeout: 20_000 })
    .toBe(0);
}

beforeAll(async () => {
  t = await startTestGateway();
  work = t.srcDir;
});
afterAll(async () => {
  await t?.close();
});

describe('volumes', { timeout: 300_000 }, () => {
  it('keep what one instance wrote for the next, another uid, across a redeploy and a gateway restart', async () => {
    const created = await kiln('volume', 'create', 'shared', '--json');
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'shared', sizeBytes: 0 });
    expect((await control('POST', '/volumes', { name: 'shared' })).json.error.code).toBe('volume_exists');

    const deployed = await deployDir(t.url, await notesDir(), {
      name: 'notes',
      runtime: 'node',
      volumes: 'shared:/data',
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    const first = await notes(t.url, 'notes', '?write=one');
    expect(first).toMatchObject({ content: 'one\n', owner: first.uid });

    await scaleToZero(t, 'notes');
    const second = await notes(t.url, 'notes', '?write=two');
    // Another instance, another uid: it appends to a file (in a dir) the first one made, and sees both as its own.
    expect(second.uid).not.toBe(first.uid);
    expect(second).toMatchObject({ content: 'one\ntwo\n', owner: second.uid });

    // On the host the files belong to the volume uid, in a dir only root can enter.
    const volumes = path.join(t.dataDir, 'volumes');
    expect((await stat(volumes)).mode & 0o777).toBe(0o700);
    const log = await stat(path.join(volumes, 'shared', 'data', 'notes', 'log.txt'));
    expect([log.uid, log.gid]).toEqual([DEFAULT_VOLUME_UID, DEFAULT_VOLUME_UID]);

    // A config update is a new version with new instances; a redeploy of the files too.
    // A redeploy of changed files (through the CLI's --volume) is a new version with new instances.
    const dir = await notesDir();
    await writeFile(path.join(dir, 'version.txt'), '2');
    const redeployed = await kiln('deploy', dir, '-n', 'notes', '--volume', 'shared:/data');
    expect(redeployed.code, redeployed.stderr).toBe(0);
    expect(redeployed.stdout).toContain('version 2');
    expect((await notes(t.url, 'notes', '?write=three')).content).toBe('one\ntwo\nthree\n');
    const info = await control('GET', '/volumes/shared');
    expect(info.json).toMatchObject({ name: 'shared', usedBy: ['notes'], sizeBytes: 14 });
    expect(info.json.mountedBy).toContainEqual({ function: 'notes', version: 2 });
    const df = await control('GET', '/system/df');
    expect(df.json.volumes).toEqual({ count: 1, bytes: 14 });

    const dataDir = t.dataDir;
    await t.close({ keepData: true });
    // A stem cell is ready after the restart: the function with a volume starts cold all the same.
    t = await startTestGateway({ dataDir, stemCells: 1 });
    const plain = path.join(work, 'plain');
    await mkdir(plain, { recursive: true });
    await writeFile(
      path.join(plain, 'index.mjs'),
      "export default { fetch: () => new Response('plain') };\n",
    );
    expect((await deployDir(t.url, plain, { name: 'plain', runtime: 'node' })).status).toBe(201);
    await expect.poll(async () => (await t.kiln.pool.listStemCells()).length, { timeout: 30_000 }).toBe(1);
    expect((await notes(t.url, 'notes', '?write=four')).content).toBe('one\ntwo\nthree\nfour\n');
    const started = (await t.kiln.pool.list()).find((i) => i.function === 'notes');
    expect(started?.startedAs).toBe('cold');
    expect(await t.kiln.pool.listStemCells()).toHaveLength(1);
    const ls = await kiln('volume', 'ls', '--json');
    expect(JSON.parse(ls.stdout).volumes).toEqual([
      expect.objectContaining({ name: 'shared', sizeBytes: 19, usedBy: ['notes'] }),
    ]);
    expect((await kiln('system', 'df')).stdout).toMatch(/volumes\s+1\s+19 B/);
  });

  it('serves two instances at once, each another uid, both writing the same file as their own', async () => {
    expect((await kiln('update', 'notes', '--min', '2')).code).toBe(0);
    // Two instances of the new version that have started (one still starting takes no exec).
    const ready = async () =>
      (await t.kiln.pool.list())
        .filter(
          (i) => i.function === 'notes' && i.version === 3 && ['idle', 'frozen', 'busy'].includes(i.state),
        )
        .map((i) => i.id);
    await expect.poll(async () => (await ready()).length, { timeout: 30_000 }).toBe(2);
    const ids = await ready();
    const runs = await Promise.all(
      ids.map((id) => t.kiln.pool.exec(id, ['sh', '-c', 'id -u >> /data/both && stat -c %u /data/both'])),
    );
    const uids = runs.map((r) => r.stdout.trim());
    expect(
      runs.map((r) => r.code),
      JSON.stringify(runs),
    ).toEqual([0, 0]);
    // Each sees the shared file as its own uid's, and the two uids differ.
    expect(new Set(uids).size).toBe(2);
    const lines = (await t.kiln.pool.exec(ids[0]!, ['cat', '/data/both'])).stdout.trim().split('\n').sort();
    expect(lines).toEqual([...uids].sort());
    await rm(path.join(t.dataDir, 'volumes', 'shared', 'data', 'both'));
  });

  it('mounts read-only when asked: writes fail with EROFS, reads work', async () => {
    const deployed = await deployDir(t.url, await notesDir(), {
      name: 'reader',
      runtime: 'node',
      volumes: JSON.stringify([{ name: 'shared', path: '/srv/shared', readOnly: true }]),
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    expect(await notes(t.url, 'reader', '?dir=/srv/shared&write=nope')).toMatchObject({ error: 'EROFS' });
    expect((await notes(t.url, 'reader', '?dir=/srv/shared')).content).toBe('one\ntwo\nthree\nfour\n');
  });

  it('refuses to remove a volume in use, and removes it (with its files) once nothing uses it', async () => {
    const refused = await kiln('volume', 'rm', 'shared');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('[volume_in_use]');
    expect(refused.stderr).toContain('notes, reader');
    expect((await control('DELETE', '/volumes/shared')).status).toBe(409);

    expect((await kiln('update', 'notes', '--volumes', '')).code).toBe(0);
    expect((await control('DELETE', '/functions/reader')).status).toBe(200);
    // The instances of notes' earlier version are retired; once they are gone nothing holds it.
    await expect
      .poll(async () => (await control('DELETE', '/volumes/shared')).status, { timeout: 20_000 })
      .toBe(200);
    expect((await control('GET', '/volumes/shared')).json.error.code).toBe('volume_not_found');
    await expect(stat(path.join(t.dataDir, 'volumes', 'shared'))).rejects.toThrow();
    expect((await notes(t.url, 'notes')).error).toBe('ENOENT');
  });

  it('kiln apply creates the volumes a stack declares and mounts them', async () => {
    const stack = path.join(work, 'stack');
    await mkdir(stack, { recursive: true });
    await rm(path.join(stack, 'counter'), { recursive: true, force: true });
    await cp(await notesDir(), path.join(stack, 'counter'), { recursive: true });
    await writeFile(
      path.join(stack, 'kiln.yaml'),
      `volumes: [ledger]
functions:
  counter:
    runtime: node
    volumes: [ledger:/var/lib/ledger]
`,
    );
    const file = path.join(stack, 'kiln.yaml');
    const diff = await kiln('diff', '-f', file);
    expect([diff.code, diff.stdout]).toEqual([1, '+ volume ledger\n+ counter\n']);
    const applied = await kiln('apply', '-f', file);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain('volume ledger: created');
    expect((await notes(t.url, 'counter', '?dir=/var/lib/ledger&write=x')).content).toBe('x\n');
    expect((await control('GET', '/volumes/ledger')).json).toMatchObject({
      usedBy: ['counter'],
      sizeBytes: 2,
    });
    expect(await kiln('diff', '-f', file)).toMatchObject({ code: 0, stdout: '' });
  });

  it('are refused under an OCI runtime that cannot idmap mounts (runc 1.1), before any build', async () => {
    const before = process.env.KILN_OCI_RUNTIME;
    process.env.KILN_OCI_RUNTIME = 'runc';
    let r: TestGateway | undefined;
    try {
      r = await startTestGateway();
    } finally {
      if (before === undefined) delete process.env.KILN_OCI_RUNTIME;
      else process.env.KILN_OCI_RUNTIME = before;
    }
    try {
      expect(r.kiln.runtime.driver.name).toBe('runc');
      await r.kiln.volumes.create('data');
      const res = await deployDir(r.url, await notesDir(), {
        name: 'n',
        runtime: 'node',
        volumes: 'data:/data',
      });
      expect([res.status, res.body.error?.code]).toEqual([422, 'volumes_unsupported']);
      expect(res.body.error?.message).toContain('crun');
    } finally {
      await r.close();
    }
  });

  it('answers bad names, paths and missing volumes with a 4xx and a code', async () => {
    for (const name of ['../x', '.hidden', 'a b', '', 'x'.repeat(64), 42]) {
      const res = await control('POST', '/volumes', { name });
      expect([res.status, res.json.error.code], String(name)).toEqual([400, 'invalid_volume_name']);
    }
    expect((await control('GET', '/volumes/.hidden')).json.error.code).toBe('invalid_volume_name');
    expect((await control('DELETE', '/volumes/nope')).status).toBe(404);
    expect((await kiln('volume', 'create', 'bad/name')).code).not.toBe(0);
    expect((await kiln('volume', 'create', 'kept')).code).toBe(0);

    const dir = await notesDir();
    for (const [volumes, code] of [
      ['kept:/etc', 'invalid_spec'],
      ['kept:/fn', 'invalid_spec'],
      ['kept:/opt', 'invalid_spec'],
      ['kept:/run/secrets', 'invalid_spec'],
      ['kept:data', 'invalid_spec'],
      ['kept:/a/../etc', 'invalid_spec'],
      ['kept:/', 'invalid_spec'],
      ['missing:/data', 'volume_not_found'],
      // Debian's /var/run is a symlink to /run: a mount point dir over it would cut the link.
      ['kept:/var/run/app', 'invalid_volume_path'],
    ] as const) {
      const res = await deployDir(t.url, dir, { name: 'bad', runtime: 'node', volumes });
      expect([res.status, res.body.error?.code], volumes).toEqual([400, code]);
    }
    expect((await control('GET', '/functions/bad')).status).toBe(404);
    const patched = await control('PATCH', '/functions/notes', {
      volumes: [{ name: 'missing', path: '/d' }],
    });
    expect([patched.status, patched.json.error.code]).toEqual([400, 'volume_not_found']);
    const flag = await kiln('deploy', dir, '-n', 'bad', '--volume', 'kept');
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toContain('NAME:/path');
  });
});
