import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { copyCheckedTree } from '../../src/build/checked-copy.js';
import {
  type BuildSandbox,
  SANDBOX_PATHS,
  type SandboxJob,
  type SandboxOutput,
} from '../../src/build/sandbox.js';
import { ROOT } from '../harness.js';

const execFileP = promisify(execFile);

/**
 * A `BuildSandbox` for fast unit tests of what sits around a build (the deployer's
 * transaction): it runs a node builder job's program (`/opt/kiln/build/<x>.mjs`) as a
 * plain child process on the host, with the sandbox's paths passed as KILN_BUILD_* env
 * and the output read back with the same checked copy. It isolates nothing, so it only
 * ever runs Kiln's own test fixtures; the real sandbox (`OciBuildSandbox`) has its own
 * integration and containment tests.
 */
export class HostProcessSandbox implements BuildSandbox {
  readonly jobs: SandboxJob[] = [];

  async run<T>(job: SandboxJob, collect: (output: SandboxOutput) => Promise<T>): Promise<T> {
    this.jobs.push(job);
    const program = job.args.find((a) => a.startsWith(`${SANDBOX_PATHS.tools}/`));
    if (!program?.endsWith('.mjs'))
      throw new Error(`HostProcessSandbox runs node build programs only: ${job.args.join(' ')}`);
    const out = await mkdtemp(path.join(tmpdir(), 'kiln-host-sandbox-'));
    try {
      const script = path.join(ROOT, 'runtimes/node/build', path.relative(SANDBOX_PATHS.tools, program));
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        KILN_BUILD_SRC: job.bundleDir ?? '',
        KILN_BUILD_JOB: job.jobDir ?? '',
        KILN_BUILD_OUT: out,
      };
      const result = await execFileP(process.execPath, [script], { env, maxBuffer: 8 << 20 }).then(
        (r) => ({ code: 0, log: r.stdout + r.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({
          code: typeof e.code === 'number' ? e.code : 1,
          log: `${e.stdout ?? ''}${e.stderr ?? ''}`,
        }),
      );
      return await collect({
        exitCode: result.code,
        log: result.log,
        copyTree: (rel, dest) =>
          copyCheckedTree(path.join(out, rel), dest, {
            maxBytes: 64 << 20,
            maxFiles: 10_000,
            what: 'the output',
          }),
        readFile: async (rel) => {
          const { readFile } = await import('node:fs/promises');
          return readFile(path.join(out, rel), 'utf8').catch(() => undefined);
        },
      });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }
}
