import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KilnError } from '../errors.js';
import { mountOverlay, unmount } from '../image/overlay.js';
import type { CgroupTree } from './cgroup/cgroup.js';
import { type Container, OciContainer } from './container.js';
import { ContainerOutput, type OutputStream } from './container-output.js';
import { imageEntry, makeMountPointLayer } from './mount-points.js';
import type { CreateHandle, OciRuntimeDriver, RunHandle } from './oci/driver.js';
import { type BindMount, buildOciSpec, type ContainerLimits, type SeccompFilter } from './oci-spec.js';
import { type OutputPipe, OutputPipes } from './output-pipes.js';
import { functionSeccompFilter } from './seccomp/function-filter.js';
import { SecretsTmpfs } from './secrets-tmpfs.js';
import { type RootfsHold, SharedRootfs } from './shared-rootfs.js';
import { listenForShim, waitForShim } from './shim-socket.js';
import { parseUidRange, UidLeases } from './uid-leases.js';

/** The shim's listening socket in the instance's host dir (never mounted into the container). */
const SOCKET_NAME = 'shim.sock';
/**
 * Where a container that may call other functions finds the gateway's call socket: a host dir
 * of the instance's own bind-mounted read-only here (connecting to a socket needs no write
 * access to its mount: the kernel checks EROFS for files, dirs and links only), with the
 * socket `CALL_SOCKET_NAME` in it, made by the gateway (src/gateway/call-listeners.ts).
 */
export const CALL_SOCKET_DIR = '/run/kiln';
export const CALL_SOCKET_NAME = 'gateway.sock';
/** RLIMIT_NOFILE inside containers: must stay at or below the host's hard limit (20000 here). */
const NOFILE = 4096;
/** /tmp in every container: a tmpfs of this size, charged to the container's memory cgroup. */
const TMP_SIZE_MB = 64;
/** How long after the runtime exits its pipes may take to reach EOF. */
const OUTPUT_GRACE_MS = 2000;
/** For a runtime that passes the socket on another fd (runc: 3): the shim still finds it on 0. */
const MOVE_LISTEN_FD = 'exec "$@" 0<&3 3<&-';

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
  /**
   * Bind-mount another dir of the instance's own, empty at start, read-only at
   * `/run/secrets`: the launcher puts the function's secrets there before `/init`.
   */
  mountSecretsDir?: boolean;
  /**
   * Bind-mount a third dir of the instance's own, empty at start, read-only at
   * `CALL_SOCKET_DIR`: the launcher puts the gateway's call socket there before `/init`.
   */
  mountCallsDir?: boolean;
  /**
   * Host dirs bind-mounted at their paths through an idmapped mount (volumes): their files'
   * owner on disk is shown as the container's uid and gid. Needs `driver.idmappedMounts`.
   */
  volumes?: VolumeBind[];
  hostname?: string;
  /**
   * Instances started with the same key and layers run from one read-only overlay mount
   * (`SharedRootfs`); absent, or with volumes (their mount points are a layer of the
   * instance's own), the instance mounts its own. One tenant's key: a function version.
   */
  shareRootfs?: string;
  /** How long the shim may take to open its socket. */
  readyTimeoutMs?: number;
}

/**
 * A container created ahead of its start (`ContainerRuntime.create`): it holds its mount,
 * cgroup, uid lease, pipes and a waiting process until `start` or `discard`; a process that
 * dies meanwhile (`container.exited`) cleans up after itself like any container.
 */
export interface CreatedContainer {
  /** Not serving until `start` resolves; `exited` and `stop` work from the create on. */
  readonly container: Container;
  readonly createdAt: number;
  /** Run its process and wait for the shim (once). */
  start(): Promise<Container>;
  /** Kill and delete it without starting it. */
  discard(): Promise<void>;
}

export interface VolumeBind {
  source: string;
  destination: string;
  readonly: boolean;
  /** Who owns `source`'s files on disk. */
  owner: { uid: number; gid: number };
}

export interface ContainerRuntimeOptions {
  /** Where uid leases live and who holds them (default /run/kiln/uids, owned by the driver's state root). */
  uids?: UidLeases;
  /** Where instances' secrets copies live (default a tmpfs at /run/kiln/secrets/<state root's name>). */
  secrets?: SecretsTmpfs;
}

/**
 * Starts instances: an overlay rootfs from snapshot dirs, a bundle with `config.json`, the
 * shim's listening socket (socket activation: `shim-socket.ts`), then the OCI runtime
 * (`driver.run`) with that socket as the container's stdin and its stdout and stderr piped
 * back (`ContainerOutput`). Each container runs as a host uid of its own (`UidLeases`)
 * under FUNCTION_SECCOMP. Knows nothing of functions or HTTP routes; the pool decides
 * what to run.
 */
export class ContainerRuntime {
  readonly uids: UidLeases;
  private readonly seccomp: SeccompFilter;
  private readonly pipes: OutputPipes;
  /** Instances' `/run/secrets` dirs, on a memory filesystem. */
  readonly secrets: SecretsTmpfs;
  /** Rootfs mounts shared by the instances of a function version (`StartRequest.shareRootfs`). */
  private readonly roots: SharedRootfs;

  constructor(
    readonly instancesDir: string,
    readonly driver: OciRuntimeDriver,
    readonly cgroups: CgroupTree,
    options: ContainerRuntimeOptions = {},
  ) {
    this.uids =
      options.uids ??
      new UidLeases('/run/kiln/uids', driver.stateRoot, parseUidRange(process.env.KILN_UID_RANGE));
    this.seccomp = functionSeccompFilter(driver.precompiledSeccomp);
    this.pipes = new OutputPipes(path.join(instancesDir, '.pipes'));
    this.secrets = options.secrets ?? SecretsTmpfs.beside(driver.stateRoot);
    this.roots = new SharedRootfs(path.join(instancesDir, '.roots'));
  }

  /** Start a container now: its process runs and its shim answers when this resolves. */
  async start(req: StartRequest): Promise<Container> {
    const launched = await this.launch(req, 'run');
    return this.whenReady(launched.container, req, launched.spawnedAt);
  }

  /**
   * Create a container whose process waits for `start` (`driver.createUnderReaper`): the
   * mount, cgroup, uid, pipes and shim socket made now, so that a later cold start only
   * runs the runtime's `start` and waits for the shim (issue 17: most of a runtime's start
   * is the create, ~7.6 of `crun run /bin/true`'s 15-20 ms here, docs/DESIGN.md §3).
   */
  async create(req: StartRequest): Promise<CreatedContainer> {
    const { container, handle } = await this.launch(req, 'create');
    try {
      await (handle as CreateHandle).created;
    } catch (err) {
      // The reaper exited: its exit cleans up; the runtime's message is in the output.
      await container.exited;
      const tail = await container.logTail(1500);
      throw new KilnError(
        'instance_start_failed',
        `${(err as Error).message}${tail ? `: ${tail.trim()}` : ''}`,
        502,
      );
    }
    return {
      container,
      createdAt: Date.now(),
      start: async () => {
        const t0 = performance.now();
        try {
          await this.driver.start(container.id);
        } catch (err) {
          await container.stop();
          throw new KilnError(
            'instance_start_failed',
            `${this.driver.name} start failed: ${(err as Error).message}`,
            502,
          );
        }
        const t1 = performance.now();
        container.timings.mountMs = 0;
        container.timings.runtimeMs = t1 - t0;
        container.timings.precreated = true;
        return this.whenReady(container, req, t1);
      },
      discard: async () => {
        await container.stop();
      },
    };
  }

  /** Wait for the shim of a container whose process runs; stop it when the shim never answers. */
  private async whenReady(container: OciContainer, req: StartRequest, spawnedAt: number): Promise<Container> {
    const ready = await waitForShim(container.socketPath, container.exited, req.readyTimeoutMs ?? 10_000);
    if (ready !== 'ready') {
      await container.stop();
      const tail = await container.logTail(1500);
      throw new KilnError(
        'instance_start_failed',
        `the container's shim did not answer (${ready})${tail ? `: ${tail.trim()}` : ''}`,
        502,
      );
    }
    container.timings.readyMs = performance.now() - spawnedAt;
    return container;
  }

  /**
   * Everything up to the OCI runtime, then the runtime: `run` (the process runs) or
   * `create` (it waits for `start`). Either way the runtime's child's exit cleans up.
   */
  private async launch(
    req: StartRequest,
    mode: 'run' | 'create',
  ): Promise<{ container: OciContainer; handle: RunHandle; spawnedAt: number }> {
    const id = `k${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
    const dir = path.join(this.instancesDir, id);
    const volumes = req.volumes ?? [];
    // Refused before anything is made for the instance: nothing to clean up.
    if (volumes.length && !this.driver.idmappedMounts) throw volumesUnsupported(this.driver.name);

    let root: RootfsHold | undefined;
    let running = false;
    let secretsDir: string | undefined;
    const uid = await this.uids.acquire();
    try {
      // Inside the try: a failed make (the secrets tmpfs, a mkdir) removes what came before it.
      // Only the gateway (root) looks in here: the socket, config.json, an own rootfs's mount point.
      await mkdir(dir, { mode: 0o700 });
      const fnDir = req.mountFnDir ? path.join(dir, 'fn') : undefined;
      if (fnDir) await mkdir(fnDir);
      // On a tmpfs, not in the instance dir: a secret's value never reaches a disk.
      if (req.mountSecretsDir) secretsDir = await this.secrets.make(id);
      const callsDir = req.mountCallsDir ? path.join(dir, 'calls') : undefined;
      if (callsDir) await mkdir(callsDir, { mode: 0o755 });

      const t0 = performance.now();
      root = await this.mountRoot(req, dir);
      const t1 = performance.now();
      const binds: BindMount[] = [];
      if (fnDir) binds.push({ source: fnDir, destination: '/fn', readonly: true });
      if (secretsDir) binds.push({ source: secretsDir, destination: '/run/secrets', readonly: true });
      if (callsDir) binds.push({ source: callsDir, destination: CALL_SOCKET_DIR, readonly: true });
      for (const v of volumes)
        binds.push({ source: v.source, destination: v.destination, readonly: v.readonly, idmap: v.owner });
      const spec = buildOciSpec({
        id,
        hostname: req.hostname ?? id,
        rootfs: root.path,
        mountPointsInImage: await mountPointsIn(req.layers, binds),
        args:
          this.driver.listenFd === 0 ? req.args : ['/bin/sh', '-c', MOVE_LISTEN_FD, 'kiln-shim', ...req.args],
        // SHIM-PROTOCOL.md §1: the listening socket is fd 0. The container's uid has no
        // /etc/passwd entry, so `os.homedir()` (node) would throw without HOME: the tmpfs.
        env: [
          ...req.env,
          ...(req.env.some((e) => e.startsWith('HOME=')) ? [] : ['HOME=/tmp']),
          'KILN_LISTEN_FD=0',
        ],
        cwd: req.cwd,
        uid,
        gid: uid,
        limits: req.limits,
        binds,
        tmpSizeMb: TMP_SIZE_MB,
        nofile: NOFILE,
        seccomp: this.seccomp,
      });
      // No fsync: config.json lives as long as its container, and after a crash recover()
      // removes the whole instance dir. On the cold-start path an fsync cost 1-3 ms median
      // and up to ~11 ms at p90 here (ext4, measured).
      await writeFile(path.join(dir, 'config.json'), JSON.stringify(spec));
      const socketPath = path.join(dir, SOCKET_NAME);
      const stdout = await this.pipes.take();
      const stderr = await this.pipes.take().catch((err) => {
        discard(stdout);
        throw err;
      });
      const listener = await listenForShim(socketPath).catch((err) => {
        discard(stdout);
        discard(stderr);
        throw err;
      });
      let handle: RunHandle;
      try {
        const stdio = { listen: listener.fd, stdout: stdout.writeFd, stderr: stderr.writeFd };
        handle =
          mode === 'run' ? this.driver.run(id, dir, stdio) : this.driver.createUnderReaper(id, dir, stdio);
        await handle.stdioHeld;
      } finally {
        // The container holds the socket and the pipes' write ends now; the gateway's
        // copies go before anything can connect (and so that EOF comes when it exits).
        listener.close();
        closeSync(stdout.writeFd);
        closeSync(stderr.writeFd);
      }
      running = true;
      const output = new ContainerOutput();
      readInto(output, 'stdout', stdout);
      readInto(output, 'stderr', stderr);
      const held = root;
      const exited = handle.exited.then(async (exit) => {
        // Its last lines reach the logs before anyone hears it exited (EOF follows the exit
        // at once: every writer was in the container's pid namespace, or the runtime).
        await Promise.race([output.closed, sleep(OUTPUT_GRACE_MS, undefined, { ref: false })]);
        await this.cleanup(id, dir, held);
        await this.uids.release(uid);
        return exit;
      });
      const t2 = performance.now();
      const container = new OciContainer(
        id,
        socketPath,
        fnDir,
        exited,
        { mountMs: t1 - t0, runtimeMs: t2 - t1, readyMs: 0 },
        this.cgroups.open(spec.linux.cgroupsPath),
        output,
        this.driver,
        { uid, gid: uid },
        secretsDir,
        callsDir,
      );
      return { container, handle, spawnedAt: t2 };
    } catch (err) {
      // Once the runtime runs, its exit cleans up (stop() above waited for it).
      if (!running) {
        await root?.release();
        await rm(dir, { recursive: true, force: true });
        if (secretsDir) await this.secrets.remove(id);
        await this.uids.release(uid);
      }
      throw err;
    }
  }

  /**
   * The instance's read-only overlay root: the shared mount of its version's instances, or
   * its own at `<dir>/rootfs` (with volumes, whose mount points come as one more layer of the
   * instance's own: the rootfs is read-only, mount-points.ts).
   */
  private async mountRoot(req: StartRequest, dir: string): Promise<RootfsHold> {
    const volumes = req.volumes ?? [];
    if (req.shareRootfs !== undefined && !volumes.length)
      return this.roots.acquire(req.shareRootfs, req.layers);
    const rootfs = path.join(dir, 'rootfs');
    await mkdir(rootfs);
    const layers = [...req.layers];
    if (volumes.length) {
      const mountPoints = path.join(dir, 'mount-points');
      await makeMountPointLayer(
        req.layers,
        volumes.map((v) => v.destination),
        mountPoints,
      );
      layers.push(mountPoints);
    }
    await mountOverlay(layers, rootfs);
    return ownRoot(rootfs);
  }

  /** Once every container is stopped: the FIFO stock goes (none is made after this). */
  async close(): Promise<void> {
    this.driver.close();
    await this.pipes.close();
    await this.secrets.close();
  }

  /** Remove what a crashed gateway left behind: containers, mounts, dirs and uid leases. */
  async recover(): Promise<number> {
    for (const id of await this.driver.list()) {
      await this.driver.kill(id);
      await this.driver.delete(id);
    }
    await this.pipes.reset();
    const left = (await readdir(this.instancesDir).catch(() => [] as string[])).filter(
      (n) => !n.startsWith('.'),
    );
    for (const id of left) {
      const dir = path.join(this.instancesDir, id);
      await this.cleanup(id, dir, ownRoot(path.join(dir, 'rootfs')));
    }
    await this.roots.clear();
    // Secrets copies of instances whose dirs went before (a kill -9 between the two removals).
    await this.secrets.clear();
    await this.uids.releaseAll();
    return left.length;
  }

  private async cleanup(id: string, dir: string, root: RootfsHold): Promise<void> {
    try {
      await this.driver.delete(id);
    } finally {
      // A shared root's reference goes whatever the runtime said.
      await root.release();
    }
    await rm(dir, { recursive: true, force: true });
    await this.secrets.remove(id);
  }
}

export function volumesUnsupported(runtime: string): KilnError {
  return new KilnError(
    'volumes_unsupported',
    `the OCI runtime ${runtime} cannot idmap mounts, which volumes need: run the gateway with crun (KILN_OCI_RUNTIME=crun)`,
    422,
  );
}

/** An instance's own overlay at `rootfs`, unmounted when it is released. */
function ownRoot(rootfs: string): RootfsHold {
  return { path: rootfs, release: () => unmount(rootfs) };
}

/** Whether a path is a dir in an image, by its layers and the path: layers never change. */
const dirsInImages = new Map<string, boolean>();
/** Entries kept at most: a few per function version, forgotten all at once past this. */
const DIRS_IN_IMAGES_MAX = 4096;

/**
 * The bind mounts' destinations that are dirs in the image: the OCI runtime mounts on them
 * as they are (the rootfs is read-only, so it can make no other).
 */
async function mountPointsIn(layers: readonly string[], binds: readonly BindMount[]): Promise<string[]> {
  const found: string[] = [];
  for (const b of binds) {
    const key = `${layers.join(':')}\n${b.destination}`;
    let isDir = dirsInImages.get(key);
    if (isDir === undefined) {
      isDir = (await imageEntry(layers, b.destination.slice(1))) === 'dir';
      if (dirsInImages.size >= DIRS_IN_IMAGES_MAX) dirsInImages.clear();
      dirsInImages.set(key, isDir);
    }
    if (isDir) found.push(b.destination);
  }
  return found;
}

function discard(pipe: OutputPipe): void {
  closeSync(pipe.writeFd);
  pipe.reader.destroy();
}

function readInto(output: ContainerOutput, stream: OutputStream, pipe: OutputPipe): void {
  pipe.reader.on('data', (chunk: Buffer) => output.write(stream, chunk));
  pipe.reader.once('close', () => output.close());
  // A read error ends the stream like EOF; the container's exit is reported elsewhere.
  pipe.reader.on('error', () => pipe.reader.destroy());
}
