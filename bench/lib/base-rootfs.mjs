// Read-only roots of Kiln's own base images plus the bench's hello programs, so that the
// floor, docker/podman and VM scenarios run the very binaries Kiln's containers run.
import { execFile } from 'node:child_process';
import { cp, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kiln } from '../../dist/kiln.js';

const execFileP = promisify(execFile);
const HELLO = path.resolve(import.meta.dirname, '../hello');

/** How each language's bare hello starts inside its root. Java gets the shim's JVM flags, not its CDS archive. */
export const FLOOR_COMMANDS = {
  node: ['/usr/local/bin/node', '/bench/hello.mjs'],
  python: ['/usr/bin/python3', '-S', '-B', '/bench/hello.py'],
  java: [
    '/usr/bin/java',
    '-Xshare:auto',
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    '-XX:-UsePerfData',
    '-cp',
    '/bench',
    'Hello',
  ],
};

/** A dir with /bench/{hello.mjs,hello.py,Hello.class}: the top layer of every bench root. */
export async function helloLayer(workDir) {
  const dir = path.join(workDir, 'hello-layer');
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.join(dir, 'bench'), { recursive: true });
  await cp(path.join(HELLO, 'hello.mjs'), path.join(dir, 'bench/hello.mjs'));
  await cp(path.join(HELLO, 'hello.py'), path.join(dir, 'bench/hello.py'));
  await cp(path.join(HELLO, 'vm-node.mjs'), path.join(dir, 'bench/vm-node.mjs'));
  await cp(path.join(HELLO, 'vm-python.py'), path.join(dir, 'bench/vm-python.py'));
  await execFileP('javac', [
    '--release',
    '17',
    '-d',
    path.join(dir, 'bench'),
    path.join(HELLO, 'Hello.java'),
  ]);
  return dir;
}

/** Snapshot dirs of a language's base image [os, lang, shim], built into the cache if needed. */
export async function baseLayers(cacheDir, language, log) {
  const { baseImages, snapshots } = await Kiln.openStores({ dataDir: cacheDir, log });
  const image = await baseImages.ensure(language);
  return image.manifest.layers.map((l) => snapshots.path(l.digest));
}

/**
 * Mount [layers..., helloLayer] read-only at `${workDir}/root-<lang>`, with a writable host
 * dir bind-mounted at /run/kiln for the hello's socket.
 */
export async function mountRoot(workDir, language, layers, hello) {
  const root = path.join(workDir, `root-${language}`);
  const sockDir = path.join(workDir, `sock-${language}`);
  await mkdir(root, { recursive: true });
  await mkdir(sockDir, { recursive: true });
  // A bench that was killed leaves its mounts: clear them first.
  const unmountAll = async () => {
    for (const sub of ['run/kiln', 'proc', ''])
      await execFileP('umount', ['-l', path.join(root, sub)]).catch(() => undefined);
  };
  await unmountAll();
  const lowerdir = [hello, ...[...layers].reverse()].join(':');
  await execFileP('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerdir}`, root]);
  // The JVM's launcher finds libjli through $ORIGIN, which glibc reads from /proc/self/exe.
  await execFileP('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')]);
  return {
    root,
    sockDir,
    bindSocketDir: () => execFileP('mount', ['--bind', sockDir, path.join(root, 'run/kiln')]),
    close: unmountAll,
  };
}
