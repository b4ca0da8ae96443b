import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KilnError } from '../errors.js';

const execFileP = promisify(execFile);

export type OciRuntimeName = 'crun' | 'runc';

export interface ContainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunHandle {
  child: ChildProcess;
  exited: Promise<ContainerExit>;
}

/**
 * Drives an OCI runtime binary. crun and runc share the command line Kiln uses, so one
 * driver serves both; crun is preferred (faster start, docs/DESIGN.md §3), runc is the fallback.
 *
 * Containers run with `<runtime> run` as a child of the gateway rather than detached
 * with `create`: the runtime then waits for the container and reports its exit status,
 * and nothing is left as a zombie under a PID 1 that does not reap (true on this host).
 */
export class OciRuntime {
  constructor(
    readonly name: OciRuntimeName,
    readonly binary: string,
    /** A state root of Kiln's own, so `list` sees only Kiln's containers. */
    readonly stateRoot: string,
  ) {}

  static async detect(stateRoot: string, prefer = process.env.KILN_OCI_RUNTIME): Promise<OciRuntime> {
    const order: OciRuntimeName[] = prefer === 'runc' ? ['runc', 'crun'] : ['crun', 'runc'];
    for (const name of order) {
      const binary = await findOnPath(name);
      if (binary) return new OciRuntime(name, binary, stateRoot);
    }
    throw new KilnError(
      'no_oci_runtime',
      'neither crun nor runc is installed: run `apt-get install -y crun` (then `kiln doctor --fix`)',
      500,
    );
  }

  /** `log` receives the container's stdout and stderr: an open file's fd, or 'ignore'. */
  run(id: string, bundleDir: string, log: number | 'ignore'): RunHandle {
    const child = spawn(this.binary, ['--root', this.stateRoot, 'run', '--bundle', bundleDir, id], {
      // Files, never pipes: the container inherits these fds, and a pipe's reader
      // would wait for every process holding it (docs/DESIGN.md §3).
      stdio: ['ignore', log, log],
    });
    const exited = new Promise<ContainerExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    return { child, exited };
  }

  async kill(id: string, signal = 'KILL'): Promise<void> {
    await execFileP(this.binary, ['--root', this.stateRoot, 'kill', id, signal]).catch(() => undefined);
  }

  async delete(id: string): Promise<void> {
    await execFileP(this.binary, ['--root', this.stateRoot, 'delete', '--force', id]).catch(() => undefined);
  }

  async list(): Promise<string[]> {
    try {
      const { stdout } = await execFileP(this.binary, ['--root', this.stateRoot, 'list', '--quiet']);
      return stdout.split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }
}

export async function findOnPath(name: string): Promise<string | undefined> {
  const dirs = (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(
    ':',
  );
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this dir
    }
  }
  return undefined;
}
