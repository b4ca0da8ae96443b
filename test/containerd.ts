import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findOnPath } from '../src/find-on-path.js';

const execFileP = promisify(execFile);

/** The containerd namespace every test object lives in (`ctr -n`). */
const NAMESPACE = 'kiln-test';

export interface TestContainerd {
  /** The daemon's gRPC socket (`ctr --address`). */
  address: string;
  /** A dir of this daemon's for the test's own files (specs, rootfs mount points, FIFOs). */
  work: string;
  /** Run ctr against this daemon, in the test namespace; returns stdout. */
  ctr(...args: string[]): Promise<string>;
  /** Start ctr as a child (for `ctr run`, which lives as long as its task). */
  spawnCtr(...args: string[]): ChildProcess;
  /** Kill what is left (tasks, containers, image mounts), stop the daemon, remove its dirs. */
  stop(): Promise<void>;
}

/**
 * Debian's containerd (1.6) on a root, state dir and socket of its own: a config file names
 * them, so nothing is shared with a host containerd (no systemd here). The default runtime is
 * io.containerd.runc.v2 with runc. Undefined when containerd or ctr is not installed.
 */
export async function startContainerd(): Promise<TestContainerd | undefined> {
  const [bin, ctrBin] = await Promise.all([findOnPath('containerd'), findOnPath('ctr')]);
  if (!bin || !ctrBin) return undefined;
  const dir = await mkdtemp(path.join('/var/tmp', 'kiln-containerd-'));
  const address = path.join(dir, 'containerd.sock');
  // The CRI plugin is off: it wants CNI and its own dirs, and ctr does not speak CRI. The opt
  // plugin's path defaults to /opt/containerd (containerd docs/man/containerd-config.toml.5).
  await writeFile(
    path.join(dir, 'config.toml'),
    `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${address}"
[ttrpc]
  address = "${address}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
`,
  );
  const daemon = spawn(bin, ['--config', path.join(dir, 'config.toml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  daemon.stderr?.on('data', (d) => {
    log = (log + String(d)).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  const ctr = async (...args: string[]) =>
    (await execFileP(ctrBin, ['--address', address, '-n', NAMESPACE, ...args], { maxBuffer: 64 << 20 }))
      .stdout;
  // Ready once ctr gets an answer from the daemon; retry until then, or until it exits.
  let ready = false;
  for (let i = 0; i < 200 && daemon.exitCode === null; i++) {
    ready = await ctr('version').then(
      () => true,
      () => false,
    );
    if (ready) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!ready) {
    daemon.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw new Error(`containerd did not start: ${log}`);
  }
  const work = path.join(dir, 'work');
  return {
    address,
    work,
    ctr,
    spawnCtr: (...args) =>
      spawn(ctrBin, ['--address', address, '-n', NAMESPACE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    stop: async () => {
      // A task's shim outlives the daemon: kill and remove each before stopping it.
      const ids = (await ctr('containers', 'ls', '-q').catch(() => '')).split('\n').filter(Boolean);
      for (const id of ids) {
        await ctr('tasks', 'kill', '-s', 'SIGKILL', id).catch(() => undefined);
        await waitForTaskExit(ctr, id);
        await ctr('tasks', 'rm', '-f', id).catch(() => undefined);
        await ctr('containers', 'rm', id).catch(() => undefined);
      }
      await unmountUnder(dir, ctr);
      daemon.kill('SIGTERM');
      await exited;
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
      // runc makes /<namespace>/<id> in each cgroup v1 hierarchy (or the v2 tree) and removes
      // the container's dir, not the namespace's.
      await removeNamespaceCgroups();
    },
  };
}

async function waitForTaskExit(ctr: TestContainerd['ctr'], id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const tasks = await ctr('tasks', 'ls').catch(() => '');
    const line = tasks.split('\n').find((l) => l.split(/\s+/)[0] === id);
    if (!line || /STOPPED/.test(line)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Image mounts (`ctr images mount`) and whatever else is mounted under the dir, deepest first. */
async function unmountUnder(dir: string, ctr?: TestContainerd['ctr']): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    // ctr's unmount also releases the lease that keeps the image's snapshot.
    if (ctr) await ctr('images', 'unmount', m).catch(() => undefined);
    else await execFileP('umount', ['-l', m]).catch(() => undefined);
  }
}

async function removeNamespaceCgroups(): Promise<void> {
  const roots = ['/sys/fs/cgroup'];
  const v1 = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  for (const h of v1) roots.push(path.join('/sys/fs/cgroup', h));
  for (const root of roots) await rmdir(path.join(root, NAMESPACE)).catch(() => undefined);
}
