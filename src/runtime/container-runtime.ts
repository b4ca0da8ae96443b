import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { chown, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../disk.js';
import { KilnError } from '../errors.js';
import { mountOverlay, unmount } from '../image/overlay.js';
import type { Cgroup, CgroupTree } from './cgroup/cgroup.js';
import type { ContainerExit, OciRuntime } from './oci-runtime.js';
import { type BindMount, buildOciSpec, type ContainerLimits } from './oci-spec.js';

/** Where the shim finds its socket dir inside every container (docs/DESIGN.md §5). */
export const SOCKET_DIR_IN_CONTAINER = '/run/kiln';
export const SOCKET_NAME = 'shim.sock';
/** RLIMIT_NOFILE inside containers: must stay at or below the host's hard limit (20000 here). */
const NOFILE = 4096;
/** The unprivileged user processes run as inside containers (`nobody`). */
const CONTAINER_UID = 65534;

export interface StartRequest {
  /** Snapshot dirs, bottom layer first (manifest order). */
  layers: string[];
  args: string[];
  env: string[];
  cwd: string;
  limits: ContainerLimits;
  /**
   * Bind-mount a host dir of the instance's own, empty at start, read-only at `/fn`:
   * a stem cell gets its function's code there when it is specialized.
   */
  mountFnDir?: boolean;
  hostname?: string;
  /** How long the shim may take to open its socket. */
  readyTimeoutMs?: number;
}

/** Where a container's start went, in ms: for `Server-Timing` and the benchmarks. */
export interface StartTimings {
  /** Instance dir and the overlay rootfs mount. */
  mountMs: number;
  /** config.json written and the OCI runtime spawned. */
  runtimeMs: number;
  /** From the spawn until the shim accepts on its socket: crun's create and start, then the shim's boot. */
  readyMs: number;
}

/**
 * One running container. It lives from `ContainerRuntime.start()` until its process
 * exits or `stop()` is called; either way its mounts, cgroup and host dir are removed
 * once, and `exited` resolves after that cleanup.
 */
export class Container {
  readonly cgroup: Cgroup;
  readonly startedAt = Date.now();
  private stopping = false;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly socketPath: string,
    readonly logPath: string,
    /** The host side of `/fn` when started with `mountFnDir`. */
    readonly fnDir: string | undefined,
    readonly exited: Promise<ContainerExit>,
    readonly timings: StartTimings,
    cgroup: Cgroup,
    private readonly kill: () => Promise<void>,
  ) {
    this.cgroup = cgroup;
  }

  /** True once `stop()` was called: an exit after that was asked for, not a crash. */
  get stopRequested(): boolean {
    return this.stopping;
  }

  async stop(): Promise<ContainerExit> {
    this.stopping = true;
    await this.kill();
    return this.exited;
  }

  async logTail(bytes = 4096): Promise<string> {
    const text = await readFile(this.logPath, 'utf8').catch(() => '');
    return text.slice(-bytes);
  }
}

/**
 * Starts instances: an overlay rootfs from snapshot dirs, a bundle with `config.json`,
 * a socket dir bind-mounted at `/run/kiln`, then the OCI runtime. Knows nothing of
 * functions or HTTP routes; the pool decides what to run.
 */
export class ContainerRuntime {
  constructor(
    readonly instancesDir: string,
    readonly oci: OciRuntime,
    readonly cgroups: CgroupTree,
  ) {}

  async start(req: StartRequest): Promise<Container> {
    const id = `k${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
    const dir = path.join(this.instancesDir, id);
    const rootfs = path.join(dir, 'rootfs');
    const sockDir = path.join(dir, 'sock');
    const logPath = path.join(dir, 'container.log');
    await mkdir(rootfs, { recursive: true });
    await mkdir(sockDir);
    // The shim runs as nobody and must be able to create its socket here.
    await chown(sockDir, CONTAINER_UID, CONTAINER_UID);
    const fnDir = req.mountFnDir ? path.join(dir, 'fn') : undefined;
    if (fnDir) await mkdir(fnDir);

    const t0 = performance.now();
    let mounted = false;
    try {
      await mountOverlay(req.layers, rootfs);
      mounted = true;
      const t1 = performance.now();
      const binds: BindMount[] = [{ source: sockDir, destination: SOCKET_DIR_IN_CONTAINER }];
      if (fnDir) binds.push({ source: fnDir, destination: '/fn', readonly: true });
      const spec = buildOciSpec({
        id,
        hostname: req.hostname ?? id,
        rootfs,
        args: req.args,
        env: req.env,
        cwd: req.cwd,
        uid: CONTAINER_UID,
        gid: CONTAINER_UID,
        limits: req.limits,
        binds,
        tmpSizeMb: 64,
        nofile: NOFILE,
      });
      await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(spec));
      const log = await open(logPath, 'a');
      const handle = this.oci.run(id, dir, log.fd);
      await log.close();
      const exited = handle.exited.then(async (exit) => {
        await this.cleanup(id, dir, rootfs);
        return exit;
      });
      const socketPath = path.join(sockDir, SOCKET_NAME);
      const t2 = performance.now();
      const container = new Container(
        id,
        dir,
        socketPath,
        logPath,
        fnDir,
        exited,
        { mountMs: t1 - t0, runtimeMs: t2 - t1, readyMs: 0 },
        this.cgroups.open(spec.linux.cgroupsPath),
        () => this.oci.kill(id),
      );
      const ready = await waitForSocket(socketPath, exited, req.readyTimeoutMs ?? 10_000);
      if (ready !== 'ready') {
        const tail = await container.logTail(1500);
        await container.stop();
        throw new KilnError(
          'instance_start_failed',
          `the container did not open its socket (${ready})${tail ? `: ${tail.trim()}` : ''}`,
          502,
        );
      }
      container.timings.readyMs = performance.now() - t2;
      return container;
    } catch (err) {
      if (!(err instanceof KilnError && err.code === 'instance_start_failed')) {
        if (mounted) await unmount(rootfs);
        await rm(dir, { recursive: true, force: true });
      }
      throw err;
    }
  }

  /** Remove what a crashed gateway left behind: containers, mounts and dirs. */
  async recover(): Promise<number> {
    for (const id of await this.oci.list()) {
      await this.oci.kill(id);
      await this.oci.delete(id);
    }
    const left = await readdir(this.instancesDir).catch(() => [] as string[]);
    for (const id of left) {
      const dir = path.join(this.instancesDir, id);
      await this.cleanup(id, dir, path.join(dir, 'rootfs'));
    }
    return left.length;
  }

  private async cleanup(id: string, dir: string, rootfs: string): Promise<void> {
    await this.oci.delete(id);
    await unmount(rootfs);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Wait until the shim accepts connections on its socket. inotify tells when the file
 * appears; a connect proves `listen()` ran too. Gives up when the container exits.
 */
async function waitForSocket(
  socketPath: string,
  exited: Promise<ContainerExit>,
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  const dir = path.dirname(socketPath);
  let wake: (() => void) | undefined;
  const watcher = watch(dir, () => wake?.());
  try {
    while (!gone && Date.now() < deadline) {
      const result = await tryConnect(socketPath);
      if (result === 'ok') return 'ready';
      // ECONNREFUSED: the socket exists but listen() has not run yet; it will shortly.
      if (result === 'ECONNREFUSED') await sleep(1);
      else {
        await Promise.race([
          new Promise<void>((resolve) => {
            wake = resolve;
          }),
          sleep(20),
          exited,
        ]);
      }
    }
    return gone ? 'exited' : 'timeout';
  } finally {
    watcher.close();
  }
}

function tryConnect(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    sock.once('connect', () => {
      sock.destroy();
      resolve('ok');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}
