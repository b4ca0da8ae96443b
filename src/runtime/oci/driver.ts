import type { HostFinding } from '../host-finding.js';

/**
 * The OCI runtime behind Kiln's containers (crun, runc; gVisor's runsc or youki would be
 * one more file here). A driver speaks one runtime's command line and knows that
 * runtime's quirks: what the host must look like for it, what it supports, and what its
 * exit statuses mean. Everything above it (ContainerRuntime, the pool) is runtime-blind.
 *
 * Lifecycle of a container, as the runtime spec has it (runtime-spec runtime.md):
 * `create` (namespaces, cgroup, rootfs; the process waits) → `start` (the process runs)
 * → it exits or is `kill`ed → `delete` (state and cgroup gone). `run` is create + start +
 * wait as one child process, which is how Kiln runs instances (see `run`).
 */
export interface OciRuntimeDriver {
  /** `crun`, `runc`: what `KILN_OCI_RUNTIME` names. */
  readonly name: string;
  readonly binary: string;
  /** A state root of Kiln's own (`--root`), so `list` sees only Kiln's containers. */
  readonly stateRoot: string;

  /**
   * Loads a classic BPF seccomp program from the `run.oci.seccomp_bpf_data` annotation
   * (base64) instead of compiling `linux.seccomp` with libseccomp at every start (crun does;
   * runc does not, and gets the spec's `linux.seccomp`).
   */
  readonly precompiledSeccomp: boolean;
  /**
   * Where the container's process finds the `listen` fd of `run`: 0 when the runtime passes
   * its stdin through as it is (crun with `terminal: false`); runc in the foreground puts
   * pipes of its own on fds 0-2 and copies, so it passes the socket on as fd 3
   * (`--preserve-fds`), and the container's command must move it to 0.
   */
  readonly listenFd: number;
  /**
   * Mounts a bind with the spec's `uidMappings`/`gidMappings` as an idmapped mount
   * (runtime-spec 1.1; crun 1.8 does, runc 1.1 ignores the fields). Volumes need it.
   */
  readonly idmappedMounts: boolean;

  /**
   * Create, start and wait for a container, then delete it: the exited init is reaped at
   * once rather than left to PID 1 (this host's, a VM agent, reaps orphans only seconds
   * later: measured), and `exited` has its status. Either a foreground `run` child of this
   * process per container, or `run --detach` under one reaper for them all
   * (`shared-reaper.ts`, `sharedReaper` option). The container's process inherits the
   * runtime's stdio (with `terminal: false` both crun and runc pass fds 0-2 through as
   * they are).
   */
  run(id: string, bundleDir: string, stdio: RunStdio): RunHandle;
  /**
   * Create a container whose process waits for `start`. The runtime exits once the
   * container exists, so the container's init is reparented to PID 1 (or the nearest
   * subreaper) and its exit status is lost to Kiln: only use this where something reaps
   * it and the status does not matter.
   */
  create(id: string, bundleDir: string, log: number | 'ignore'): Promise<void>;
  /**
   * `create` under a reaper child of this process (a subreaper: perl's prctl, as
   * `reaper.ts` has it) that adopts the container's init when the runtime exits, and
   * exits with the init's status once it has reaped it: `run`'s exit status and prompt
   * reaping for a container created ahead of its `start` (docs/DESIGN.md §3). `created`
   * resolves once the container exists (its process waits for `start`) and rejects when
   * the create failed; stdio as for `run`.
   */
  createUnderReaper(id: string, bundleDir: string, stdio: RunStdio): CreateHandle;
  start(id: string): Promise<void>;
  /** Run a command in a running container's namespaces and cgroup; resolves when it exits. */
  exec(id: string, args: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Signal the container's init (default SIGKILL); a container already gone is not an error. */
  kill(id: string, signal?: string): Promise<void>;
  /** Forget a container (and kill what is left of it); one already gone is not an error. */
  delete(id: string): Promise<void>;
  /** The runtime's view of a container, or undefined when it does not know it. */
  state(id: string): Promise<ContainerState | undefined>;
  /** Let go of what the driver keeps running between calls (the shared reaper). */
  close(): void;
  /** Ids of every container in this state root. */
  list(): Promise<string[]>;
  /** The runtime's own version line, e.g. `crun version 1.8.1`. */
  version(): Promise<string>;
  features(): Promise<OciFeatures>;
  /** What this runtime needs from the host beyond what every runtime needs (`kiln doctor`). */
  hostFindings(): Promise<HostFinding[]>;
  /** Why a container's init exited, from its exit status and whether Kiln asked it to stop. */
  exitCause(exit: ContainerExit, stopRequested: boolean): ExitCause;
}

export interface ContainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunStdio {
  /**
   * An open fd the container's process gets at `listenFd`: the listening socket the shim
   * serves on (socket activation). Undefined: stdin is /dev/null.
   */
  listen?: number;
  /**
   * Open fds for the container's stdout and stderr (the write ends of pipes the gateway
   * reads). A pipe is right for `run` (the runtime lives as long as the container, so EOF
   * comes when the container is gone), unlike for `create` (docs/DESIGN.md §3).
   * Undefined: /dev/null.
   */
  stdout?: number;
  stderr?: number;
}

export interface RunHandle {
  /**
   * The runtime holds its own copies of the stdio fds: the caller may close its copies once
   * this resolves (at once for a spawned runtime; after the shared reaper took them).
   */
  stdioHeld: Promise<void>;
  exited: Promise<ContainerExit>;
}

export interface CreateHandle extends RunHandle {
  /** The container exists and its process waits for `start`; rejects when the create failed. */
  created: Promise<void>;
}

/** runtime-spec runtime.md: creating, created, running, stopped (runc and crun add paused). */
export interface ContainerState {
  id: string;
  status: string;
  /** The container's init as the host sees it; 0 once it has stopped. */
  pid: number;
  bundle: string;
}

export interface ExecOptions {
  /** Who the command runs as inside the container (default: the runtime's default, root). */
  user?: { uid: number; gid: number };
  /** `NAME=value` entries added to the process's environment. */
  env?: string[];
  cwd?: string;
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /**
   * Output as the command writes it (`kiln exec` streams it); then the result's `stdout` and
   * `stderr` are empty. While a returned promise is pending, that stream's pipe is not read
   * (the command blocks on a full pipe: a slow reader slows it instead of filling memory).
   */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void | Promise<void>;
  /** Kill the command when this aborts (the client went away). */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** The command's exit code; null when a signal ended it (then `signal` says which). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** What a runtime says it supports (runtime-spec features.md), as far as Kiln needs it. */
export interface OciFeatures {
  /** The newest runtime-spec version the runtime implements. */
  ociVersionMax: string;
  /** Kiln's spec carries a seccomp filter: a runtime built without libseccomp cannot run it. */
  seccomp: boolean;
  /** Cgroup versions the runtime can drive; undefined when the runtime does not say. */
  cgroupV1?: boolean;
  cgroupV2?: boolean;
}

/**
 * Why a container ended: Kiln stopped it, the kernel's OOM killer killed it, or it died
 * on its own (a crash, an exit).
 */
export type ExitCause = 'stopped' | 'out_of_memory' | 'crashed';
