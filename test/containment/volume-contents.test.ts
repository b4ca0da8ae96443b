import { chmod, lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_VOLUME_UID } from '../../src/volumes/volume-owner.js';
import { controlCall, deployDir, startTestGateway, type TestGateway } from '../harness.js';

/**
 * What a hostile function can leave in its volume, and what the host does with it: symlinks
 * (to `/` and to a host file outside the volume), a setuid file, a FIFO, a device node, and a
 * chown to another id. The gateway's size walk and `volume rm` follow no link and open no
 * FIFO; the host file a link names survives the volume's removal; the setuid file is the
 * volume uid's in a 0700 dir and does not run setuid in the container; the mknod and the
 * chown fail. A file the host puts in as root shows as nobody and cannot be written: files
 * copied in by hand must be the volume uid's (README, Volumes).
 */
let t: TestGateway;
let work: string;
let sentinel: string;

interface Planted {
  symlinks: string;
  setuid: string;
  fifo: string;
  mknod: string;
  chown: string;
  suidRuns: string;
  rootFile: { owner: number; read: string; write: string };
}

beforeAll(async () => {
  t = await startTestGateway();
  work = t.srcDir;
  // A host file outside the volume, which the function links to by its host path.
  sentinel = path.join(work, 'sentinel.txt');
  await mkdir(work, { recursive: true });
  await writeFile(sentinel, 'still here');
  const dir = path.join(work, 'planter');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'index.mjs'),
    `import { chmodSync, chownSync, copyFileSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const tryIt = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code ?? String(e.status); } };
export default { fetch: (req) => {
  const target = new URL(req.url).searchParams.get('target');
  const v = '/data';
  const out = {
    symlinks: tryIt(() => { symlinkSync('/', v + '/root'); symlinkSync(target, v + '/host-file'); }),
    setuid: tryIt(() => { copyFileSync('/usr/bin/id', v + '/suid-id'); chmodSync(v + '/suid-id', 0o4755); }),
    fifo: tryIt(() => execFileSync('mkfifo', [v + '/pipe'])),
    mknod: tryIt(() => execFileSync('mknod', [v + '/null', 'c', '1', '3'], { stdio: 'ignore' })),
    chown: tryIt(() => { writeFileSync(v + '/mine', 'x'); chownSync(v + '/mine', 0, 0); }),
    // nosuid: the file runs as the instance's uid, whoever owns it.
    suidRuns: execFileSync(v + '/suid-id', ['-u']).toString().trim() === String(process.getuid()) ? 'as caller' : 'elevated',
  };
  let owner = -1;
  try { owner = execFileSync('stat', ['-c', '%u', v + '/by-root']).toString().trim() * 1; } catch {}
  out.rootFile = {
    owner,
    read: tryIt(() => readFileSync(v + '/by-root')),
    write: tryIt(() => writeFileSync(v + '/by-root', 'changed')),
  };
  return Response.json(out);
} };\n`,
  );
  expect((await controlCall(t.url, 'POST', '/volumes', { name: 'plot' })).status).toBe(201);
  // An operator's file copied in as root, readable by all.
  const byRoot = path.join(t.dataDir, 'volumes', 'plot', 'data', 'by-root');
  await writeFile(byRoot, 'from the host');
  await chmod(byRoot, 0o644);
  const deployed = await deployDir(t.url, dir, { name: 'planter', runtime: 'node', volumes: 'plot:/data' });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

describe('what a function leaves in a volume', { timeout: 120_000 }, () => {
  let planted: Planted;
  const data = () => path.join(t.dataDir, 'volumes', 'plot', 'data');

  it('plants links, a setuid file and a FIFO; no device node, no chown, no setuid run', async () => {
    const res = await fetch(`${t.url}/fn/planter/?target=${encodeURIComponent(sentinel)}`);
    expect(res.status).toBe(200);
    planted = (await res.json()) as Planted;
    expect(planted).toMatchObject({
      symlinks: 'ok',
      setuid: 'ok',
      fifo: 'ok',
      suidRuns: 'as caller',
    });
    // uid 0 has no mapping in the volume's one-id idmap: EOVERFLOW (measured), before the EPERM
    // a process without CAP_CHOWN would get anywhere else.
    expect(['EOVERFLOW', 'EPERM']).toContain(planted.chown);
    expect(planted.mknod).not.toBe('ok');
    // The operator's root-owned file: nobody's to the instance, readable, not writable.
    expect(planted.rootFile).toEqual({ owner: 65534, read: 'ok', write: 'EACCES' });
    const suid = await stat(path.join(data(), 'suid-id'));
    expect([suid.uid, suid.mode & 0o4000]).toEqual([DEFAULT_VOLUME_UID, 0o4000]);
    expect((await stat(path.join(t.dataDir, 'volumes'))).mode & 0o777).toBe(0o700);
    expect((await lstat(path.join(data(), 'root'))).isSymbolicLink()).toBe(true);
  });

  it('the host sizes it without following a link or opening the FIFO, and removes it alone', async () => {
    // Following `root` → / would count the host's whole filesystem; opening `pipe` would block.
    const info = await controlCall(t.url, 'GET', '/volumes/plot');
    expect(info.status).toBe(200);
    expect(info.json.sizeBytes).toBeLessThan(10 * 1024 * 1024);
    expect((await controlCall(t.url, 'DELETE', '/functions/planter')).status).toBe(200);
    await expect
      .poll(async () => (await controlCall(t.url, 'DELETE', '/volumes/plot')).status, { timeout: 20_000 })
      .toBe(200);
    await expect(lstat(path.join(t.dataDir, 'volumes', 'plot'))).rejects.toThrow();
    expect(await readFile(sentinel, 'utf8')).toBe('still here');
  });
});
