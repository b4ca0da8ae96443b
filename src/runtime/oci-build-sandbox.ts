import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chown, lstat, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import PQueue from 'p-queue';
import { copyCheckedTree } from '../build/checked-copy.js';
import {
  type BuildSandbox,
  SANDBOX_PATHS,
  type SandboxJob,
  type SandboxLimits,
  type SandboxOutput,
} from '../build/sandbox.js';
import { KilnError } from '../errors.js';
import type { OciRuntimeDriver } from './oci/driver.js';
import { type BindMount, buildOciSpec, type SeccompFilter } from './oci-spec.js';
import { functionSeccompFilter } from './seccomp/function-filter.js';
import type { UidLeases } from './uid-leases.js';

const execFileP = promisify(execFile);

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  // javac's JVM sizes its heap from the cgroup's limit (a quarter of it): 1 GiB leaves
  // 256 MiB of heap, enough for a few thousand classes.
  memoryBytes: 1024 * 1024 * 1024,
  pids: 256,
  cpus: 2,
  deadlineMs: 120_000,
  outputBytes: 128 * 1024 * 1024,
  outputFiles: 20_000,
};

/** The job's stdout and stderr: a tmpfs of their own, so a full output dir still leaves its messages. */
const LOG_BYTES = 1024 * 1024;
/** What is kept of the job's stdout and stderr for messages. */
const LOG_TAIL_BYTES = 16 * 1024;

export interface OciSandboxOptions {
  /** Builds at once; more wait their turn (default: the host's cores). */
  concurrency?: number;
  limits?: Partial<SandboxLimits>;
}

/** Where a build's uid comes from: Kiln's leased range, as a function container's does. */
export type BuildUids = Pick<UidLeases, 'acquire' | 'release'>;

/**
 * The build sandbox on the OCI runtime that runs function containers, with the same spec
 * and seccomp filter (`buildOciSpec`, `FUNCTION_SECCOMP`: every namespace, loopback-only
 * network, no capabilities, `noNewPrivileges`, masked /proc, a read-only root) and a host
 * uid leased from the same range (`UidLeases`: no build shares a uid with a function or
 * another build, so per-uid kernel limits couple none of them), plus what a build needs:
 *
 *   /              the builder image's layers, an overlay with no upper dir (read-only)
 *   /src /kiln /opt/kiln/shim   host dirs bind-mounted read-only (bundle, job, shim)
 *   /out           the only writable place: a dir on a tmpfs the host mounted for this
 *                  build with `size=` and `nr_inodes=` caps, so a build cannot fill the
 *                  host's disk or memory beyond them; stdout and stderr go to a file on
 *                  a second 1 MiB tmpfs, which the container cannot see (only its fds)
 *
 * A host tmpfs rather than one inside the container: the host then reads the output
 * straight from its own mount after the container is gone (no copy through a pipe, no
 * second container to read it), and the cap holds whatever the build does. The output is
 * read with `copyCheckedTree`: only files, dirs and links that resolve inside, within the
 * caps. Memory, pids and a CPU quota are the cgroup's; a build past its deadline is
 * killed (400 `build_timeout`).
 */
export class OciBuildSandbox implements BuildSandbox {
  private readonly queue: PQueue;
  private readonly limits: SandboxLimits;
  private readonly seccomp: SeccompFilter;

  constructor(
    private readonly driver: OciRuntimeDriver,
    private readonly uids: BuildUids,
    private readonly tmpDir: string,
    options: OciSandboxOptions = {},
  ) {
    this.queue = new PQueue({ concurrency: options.concurrency ?? Math.max(1, availableParallelism()) });
    this.limits = { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
    this.seccomp = functionSeccompFilter(driver.precompiledSeccomp);
  }

  run<T>(job: SandboxJob, collect: (output: SandboxOutput) => Promise<T>): Promise<T> {
    return this.queue.add(() => this.runNow(job, collect));
  }

  private async runNow<T>(job: SandboxJob, collect: (output: SandboxOutput) => Promise<T>): Promise<T> {
    const limits: SandboxLimits = { ...this.limits, ...job.limits };
    const id = `b${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
    const uid = await this.uids.acquire();
    const dir = await mkdtemp(path.join(this.tmpDir, 'build-')).catch(async (err) => {
      await this.uids.release(uid);
      throw err;
    });
    const rootfs = path.join(dir, 'rootfs');
    const box = path.join(dir, 'box');
    const out = path.join(box, 'out');
    const logBox = path.join(dir, 'log');
    const logFile = path.join(logBox, 'log');
    let mounted = false;
    let running = false;
    try {
      for (const d of [rootfs, box, logBox]) await mkdir(d);
      // One mount(8) each would be three process spawns; one shell runs all three.
      await mountAll([
        ['overlay', 'kiln-build-root', `lowerdir=${[...job.layers].reverse().join(':')}`, rootfs],
        ['tmpfs', 'kiln-build-out', tmpfsOptions(limits.outputBytes, limits.outputFiles + 2), box],
        ['tmpfs', 'kiln-build-log', tmpfsOptions(LOG_BYTES, 4), logBox],
      ]);
      mounted = true;
      await mkdir(out, { mode: 0o700 });
      await chown(out, uid, uid);

      const binds: BindMount[] = [{ source: out, destination: SANDBOX_PATHS.out }];
      if (job.bundleDir)
        binds.push({ source: job.bundleDir, destination: SANDBOX_PATHS.bundle, readonly: true });
      if (job.jobDir) binds.push({ source: job.jobDir, destination: SANDBOX_PATHS.job, readonly: true });
      if (job.shimDir) binds.push({ source: job.shimDir, destination: SANDBOX_PATHS.shim, readonly: true });
      const spec = buildOciSpec({
        id,
        hostname: 'kiln-build',
        rootfs,
        args: job.args,
        env: job.env,
        cwd: job.cwd ?? '/',
        uid,
        gid: uid,
        limits: { memoryBytes: limits.memoryBytes, pids: limits.pids, cpus: limits.cpus },
        binds,
        tmpSizeMb: 64,
        nofile: 4096,
        seccomp: this.seccomp,
      });
      await writeFile(path.join(dir, 'config.json'), JSON.stringify(spec));

      const log = await open(logFile, 'w', 0o600);
      let handle: ReturnType<OciRuntimeDriver['run']>;
      try {
        handle = this.driver.run(id, dir, { stdout: log.fd, stderr: log.fd });
        running = true;
        // The log's fd is closed here only once the runtime has its own copy of it.
        await handle.stdioHeld;
      } finally {
        await log.close();
      }
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        void this.driver.kill(id);
      }, limits.deadlineMs);
      // `run` deletes the container once its init has exited: nothing is left to delete.
      const exit = await handle.exited.finally(() => clearTimeout(timer));
      running = false;
      if (timedOut) {
        throw new KilnError(
          'build_timeout',
          `the ${job.what} took longer than ${Math.round(limits.deadlineMs / 1000)} s and was stopped`,
        );
      }
      if (this.driver.exitCause(exit, false) === 'out_of_memory') {
        throw new KilnError(
          'build_out_of_memory',
          `the ${job.what} used more than ${Math.round(limits.memoryBytes / 1048576)} MiB and was stopped`,
        );
      }
      const caps = {
        maxBytes: limits.outputBytes,
        maxFiles: limits.outputFiles,
        what: `the ${job.what}'s output`,
      };
      return await collect({
        exitCode: exit.code,
        log: await readTail(logFile, LOG_TAIL_BYTES),
        copyTree: async (rel, dest) => {
          const from = path.join(out, safeRel(rel));
          const st = await lstat(from).catch(() => undefined);
          if (!st?.isDirectory()) {
            throw new KilnError('build_failed', `the ${job.what} made no ${rel}/ directory`);
          }
          await copyCheckedTree(from, dest, caps);
        },
        readFile: (rel, maxBytes = 64 * 1024) => readSmallFile(path.join(out, safeRel(rel)), maxBytes),
      });
    } finally {
      if (running) await this.driver.delete(id);
      // Lazily: a mount still busy is detached at once and freed when its last user goes.
      if (mounted) await execFileP('umount', ['-l', logBox, box, rootfs]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      await this.uids.release(uid);
    }
  }
}

function tmpfsOptions(bytes: number, inodes: number): string {
  return `size=${bytes},nr_inodes=${inodes},mode=0755,nosuid,nodev,noexec`;
}

/**
 * `[type, source, options, target]` each, mounted in order by one shell (three mount(8)
 * spawns cost ~3x one on a busy host); the values are its arguments, never its script.
 */
async function mountAll(mounts: [string, string, string, string][]): Promise<void> {
  const script = mounts
    .map((_, i) => `mount -t "\${${4 * i + 1}}" -o "\${${4 * i + 3}}" "\${${4 * i + 2}}" "\${${4 * i + 4}}"`)
    .join(' && ');
  try {
    await execFileP('/bin/sh', ['-c', script, 'kiln-mount', ...mounts.flat()]);
  } catch (err) {
    // Whatever did get mounted goes: the caller only unmounts what mountAll finished.
    await execFileP('umount', ['-l', ...mounts.map((m) => m[3])]).catch(() => undefined);
    throw new KilnError(
      'build_sandbox_failed',
      `mounting the build's rootfs and tmpfs failed: ${(err as Error).message}`,
      500,
    );
  }
}

/** Kiln's own names only: one or more plain path parts. */
function safeRel(rel: string): string {
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(rel) || rel.split('/').includes('..')) {
    throw new KilnError('internal_error', `"${rel}" is not a path inside a build's output`, 500);
  }
  return rel;
}

/** A regular file the job wrote (never followed if it is a link), or undefined when absent. */
async function readSmallFile(file: string, maxBytes: number): Promise<string | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > maxBytes) return undefined;
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function readTail(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) return '';
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}
