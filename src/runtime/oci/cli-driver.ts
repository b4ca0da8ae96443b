import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { KilnError } from '../../errors.js';
import type { HostFinding } from '../host-finding.js';
import type {
  ContainerExit,
  ContainerState,
  CreateHandle,
  ExecOptions,
  ExecResult,
  ExitCause,
  OciFeatures,
  OciRuntimeDriver,
  RunHandle,
  RunStdio,
} from './driver.js';
import { mergingMemory } from './memory-merge.js';
import { REAPER_SCRIPT } from './reaper.js';
import { SharedReaper } from './shared-reaper.js';

const execFileP = promisify(execFile);

export interface OciDriverOptions {
  /** Start containers under PR_SET_MEMORY_MERGE (`KILN_KSM`, memory-merge.ts). */
  mergeMemory?: boolean;
  /**
   * `run` containers detached under one reaper process for all of them (shared-reaper.ts)
   * instead of a foreground runtime process per container (`KILN_SHARED_REAPER`).
   */
  sharedReaper?: boolean;
}

/** Output an exec'd command may produce before it is cut off (it is for people, not bulk data). */
const EXEC_MAX_OUTPUT = 8 * 1024 * 1024;

/**
 * The command line runc defined and crun copied (`--root R run|create|start|exec|kill|
 * delete|state|list`): one implementation for every runtime that speaks it. A runtime's
 * own file extends this with what differs: its features, its host needs, its exits.
 */
export abstract class OciCliDriver implements OciRuntimeDriver {
  abstract readonly name: string;

  constructor(
    readonly binary: string,
    readonly stateRoot: string,
    readonly options: OciDriverOptions = {},
  ) {}

  /** The runtime with `args`, as spawn takes it: under PR_SET_MEMORY_MERGE when opted in. */
  private runtimeCommand(args: string[]): [string, string[]] {
    return this.options.mergeMemory ? mergingMemory([this.binary, ...args]) : [this.binary, args];
  }

  protected args(...rest: string[]): string[] {
    return ['--root', this.stateRoot, ...rest];
  }

  abstract readonly precompiledSeccomp: boolean;
  readonly listenFd: number = 0;
  readonly idmappedMounts: boolean = false;

  private reaper: SharedReaper | undefined;

  run(id: string, bundleDir: string, stdio: RunStdio): RunHandle {
    const { flags, fds } = this.stdioOf(stdio);
    if (this.options.sharedReaper) {
      this.reaper ??= new SharedReaper();
      const pidFile = path.join(bundleDir, 'init.pid');
      const [program, args] = this.runtimeCommand(
        this.args('run', '--detach', '--pid-file', pidFile, ...flags, '--bundle', bundleDir, id),
      );
      const { stdioHeld, exited } = this.reaper.run([program, ...args], pidFile, fds);
      // A detached container stays `stopped` once its init has exited; a foreground `run`
      // deletes it then, and callers count on that (the build sandbox deletes nothing).
      return { stdioHeld, exited: exited.then((exit) => this.delete(id).then(() => exit)) };
    }
    const child = spawn(...this.runtimeCommand(this.args('run', ...flags, '--bundle', bundleDir, id)), {
      stdio: fds,
    });
    return { stdioHeld: Promise.resolve(), exited: exitOf(child) };
  }

  close(): void {
    this.reaper?.close();
    this.reaper = undefined;
  }

  createUnderReaper(id: string, bundleDir: string, stdio: RunStdio): CreateHandle {
    const { flags, fds } = this.stdioOf(stdio);
    // The reaper's word that the container exists comes on the fd after the container's own.
    const statusFd = fds.length;
    const child = spawn(
      'perl',
      [
        '-e',
        REAPER_SCRIPT,
        String(statusFd),
        ...this.runtimeCommand(this.args('create', ...flags, '--bundle', bundleDir, id)).flat(),
      ],
      { stdio: [...fds, 'pipe'] },
    );
    const exited = exitOf(child);
    const status = child.stdio[statusFd] as NodeJS.ReadableStream;
    const created = new Promise<void>((resolve, reject) => {
      let said = '';
      status.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('created')) resolve();
      });
      void exited.then((exit) =>
        reject(
          new KilnError(
            'container_create_failed',
            `${this.name} create ${id} failed (exit ${exit.code ?? exit.signal})`,
            500,
          ),
        ),
      );
    });
    // Settled either way by the exit; a caller that only awaits `exited` must not see a rejection.
    created.catch(() => undefined);
    return { stdioHeld: Promise.resolve(), exited, created };
  }

  /** The container's stdio for `run` and `create`: the listening socket where `listenFd` says. */
  private stdioOf(stdio: RunStdio): { flags: string[]; fds: ('ignore' | number)[] } {
    const out = stdio.stdout ?? 'ignore';
    const err = stdio.stderr ?? 'ignore';
    const passed = this.listenFd > 2 && stdio.listen !== undefined;
    return {
      flags: passed ? ['--preserve-fds', String(this.listenFd - 2)] : [],
      fds: passed ? ['ignore', out, err, stdio.listen as number] : [stdio.listen ?? 'ignore', out, err],
    };
  }

  async create(id: string, bundleDir: string, log: number | 'ignore'): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(this.binary, this.args('create', '--bundle', bundleDir, id), {
        stdio: ['ignore', log, log],
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0
          ? resolve()
          : reject(
              new KilnError('container_create_failed', `${this.name} create ${id} exited with ${code}`, 500),
            ),
      );
    });
  }

  async start(id: string): Promise<void> {
    await this.command('start', id);
  }

  async exec(id: string, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const state = await this.state(id);
    if (state?.status !== 'running') {
      throw new KilnError(
        'container_not_running',
        `container ${id} is ${state ? state.status : 'not known to the runtime'}: nothing to exec in`,
        409,
      );
    }
    const flags: string[] = ['--no-new-privs'];
    if (options.user) flags.push('--user', `${options.user.uid}:${options.user.gid}`);
    if (options.cwd) flags.push('--cwd', options.cwd);
    for (const entry of options.env ?? []) flags.push('--env', entry);
    // Pipes are right here, unlike for `run`: exec waits for its command anyway. A command
    // that leaves a background child holding stdout keeps the pipe open until the timeout.
    const child = spawn(this.binary, this.args('exec', ...flags, id, ...args), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collected = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    let bytes = 0;
    let cutOff = false;
    const kill = () => child.kill('SIGKILL');
    for (const name of ['stdout', 'stderr'] as const) {
      const pipe = child[name];
      pipe.on('data', (chunk: Buffer) => {
        if (options.onOutput) {
          const held = options.onOutput(name, chunk);
          if (held) {
            pipe.pause();
            void held.then(
              () => pipe.resume(),
              () => kill(),
            );
          }
          return;
        }
        bytes += chunk.length;
        // Buffered output is for people, not bulk data: past the cap the command is killed.
        if (bytes > EXEC_MAX_OUTPUT) {
          cutOff = true;
          kill();
          return;
        }
        collected[name].push(chunk);
      });
    }
    const timer = setTimeout(kill, options.timeoutMs ?? 30_000);
    if (options.signal?.aborted) kill();
    options.signal?.addEventListener('abort', kill, { once: true });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: 'SIGKILL' }));
    });
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', kill);
    return {
      code: exit.code,
      signal: cutOff ? 'SIGKILL' : exit.signal,
      stdout: Buffer.concat(collected.stdout).toString('utf8'),
      stderr: Buffer.concat(collected.stderr).toString('utf8'),
    };
  }

  async kill(id: string, signal = 'KILL'): Promise<void> {
    await this.command('kill', id, signal).catch(() => undefined);
  }

  async delete(id: string): Promise<void> {
    await this.command('delete', '--force', id).catch(() => undefined);
  }

  async state(id: string): Promise<ContainerState | undefined> {
    try {
      const { stdout } = await this.command('state', id);
      const parsed = JSON.parse(stdout) as Partial<ContainerState>;
      return {
        id,
        status: String(parsed.status),
        pid: Number(parsed.pid ?? 0),
        bundle: String(parsed.bundle),
      };
    } catch {
      return undefined;
    }
  }

  async list(): Promise<string[]> {
    try {
      const { stdout } = await this.command('list', '--quiet');
      return stdout.split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  async version(): Promise<string> {
    const { stdout } = await execFileP(this.binary, ['--version']).catch(() => ({ stdout: '' }));
    return stdout.split('\n')[0] ?? '';
  }

  /** `<runtime> features` (runtime-spec features.md), where the runtime has it. */
  async features(): Promise<OciFeatures> {
    const { stdout } = await execFileP(this.binary, ['features']);
    const doc = JSON.parse(stdout) as {
      ociVersionMax?: string;
      linux?: { seccomp?: { enabled?: boolean }; cgroup?: { v1?: boolean; v2?: boolean } };
    };
    return {
      ociVersionMax: doc.ociVersionMax ?? 'unknown',
      seccomp: doc.linux?.seccomp?.enabled === true,
      cgroupV1: doc.linux?.cgroup?.v1,
      cgroupV2: doc.linux?.cgroup?.v2,
    };
  }

  async hostFindings(): Promise<HostFinding[]> {
    return [];
  }

  /**
   * The container's init is the shim, PID 1 of its own pid namespace. Processes inside the
   * namespace can send it only signals it has a handler for, and SIGKILL can have none
   * (pid_namespaces(7)). Both crun and runc report an init killed by a signal as 128 + the
   * signal (137 for SIGKILL; the driver tests check it). So a 137 Kiln did not ask for came
   * from outside the namespace: the kernel's OOM killer of the container's cgroup. (The
   * cgroup's own `oom_kill` counter cannot say so: the runtime removes the cgroup as the
   * init exits.)
   */
  exitCause(exit: ContainerExit, stopRequested: boolean): ExitCause {
    if (stopRequested) return 'stopped';
    if (exit.code === 137) return 'out_of_memory';
    return 'crashed';
  }

  protected command(...rest: string[]): Promise<{ stdout: string; stderr: string }> {
    return execFileP(this.binary, this.args(...rest));
  }
}

function exitOf(child: ChildProcess): Promise<ContainerExit> {
  return new Promise<ContainerExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
}
