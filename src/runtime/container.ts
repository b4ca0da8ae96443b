import type { Cgroup } from './cgroup/cgroup.js';
import type { ContainerOutput } from './container-output.js';
import type { ContainerExit, ExecOptions, ExecResult, ExitCause, OciRuntimeDriver } from './oci/driver.js';

/** Where a container's start went, in ms: for `Server-Timing` and the benchmarks. */
export interface StartTimings {
  /** Instance dir and the overlay rootfs mount. */
  mountMs: number;
  /** config.json written and the OCI runtime spawned. */
  runtimeMs: number;
  /** From the spawn until the shim answers on its socket: the runtime's create and start, then the shim's boot. */
  readyMs: number;
  /**
   * Created ahead of the request (`ContainerRuntime.create`): `mountMs` is 0 and `runtimeMs`
   * the runtime's `start` only; the mount and create were paid before (issue 17).
   */
  precreated?: boolean;
}

/**
 * One running container, as the pool sees it. It lives from `ContainerRuntime.start()`
 * until its process exits or `stop()` is called; either way its mounts, cgroup and host
 * dir are removed once, and `exited` resolves after that cleanup.
 */
export interface Container {
  readonly id: string;
  /**
   * The host path of the shim's unix socket. The gateway made it in the instance's host dir,
   * which the container does not see; the shim has it as fd 0.
   */
  readonly socketPath: string;
  /** The host uid the container's processes run as: its own, while it lives (UidLeases). */
  readonly uid: number;
  /** The host side of `/fn` when started with `mountFnDir` (a stem cell's code goes there). */
  readonly fnDir: string | undefined;
  /** The host side of `/run/secrets` when started with `mountSecretsDir`. */
  readonly secretsDir?: string;
  /** The host side of `CALL_SOCKET_DIR` when started with `mountCallsDir`. */
  readonly callsDir?: string;
  readonly startedAt: number;
  readonly timings: StartTimings;
  readonly cgroup: Cgroup;
  readonly exited: Promise<ContainerExit>;
  /** True once `stop()` was called: an exit after that was asked for, not a crash. */
  readonly stopRequested: boolean;
  stop(): Promise<ContainerExit>;
  /** Run a command inside the container, as the container's own unprivileged user. */
  exec(args: string[], options?: Omit<ExecOptions, 'user'>): Promise<ExecResult>;
  /** Why the container ended (`exited`'s value): the OCI runtime's reading of it. */
  exitCause(exit: ContainerExit): ExitCause;
  /** Its stdout and stderr: attach a sink to keep them (src/logs), and tell it about requests. */
  readonly output: ContainerOutput;
  /** The end of what the container wrote to stdout and stderr (kept in memory). */
  logTail(bytes?: number): Promise<string>;
}

/** A container run by an OCI runtime driver (what `ContainerRuntime.start` returns). */
export class OciContainer implements Container {
  readonly startedAt = Date.now();
  private stopping = false;

  constructor(
    readonly id: string,
    readonly socketPath: string,
    readonly fnDir: string | undefined,
    readonly exited: Promise<ContainerExit>,
    readonly timings: StartTimings,
    readonly cgroup: Cgroup,
    readonly output: ContainerOutput,
    private readonly driver: OciRuntimeDriver,
    private readonly user: { uid: number; gid: number },
    readonly secretsDir?: string,
    readonly callsDir?: string,
  ) {}

  get uid(): number {
    return this.user.uid;
  }

  get stopRequested(): boolean {
    return this.stopping;
  }

  async stop(): Promise<ContainerExit> {
    this.stopping = true;
    await this.driver.kill(this.id);
    return this.exited;
  }

  exec(args: string[], options: Omit<ExecOptions, 'user'> = {}): Promise<ExecResult> {
    return this.driver.exec(this.id, args, { ...options, user: this.user });
  }

  exitCause(exit: ContainerExit): ExitCause {
    return this.driver.exitCause(exit, this.stopping);
  }

  async logTail(bytes = 4096): Promise<string> {
    return this.output.tail(bytes);
  }
}
