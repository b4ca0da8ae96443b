/**
 * Where every build step that reads bundle content runs (docs/DESIGN.md §8): a build
 * container with at least a function container's isolation, started from a builder image.
 * The job sees its inputs read-only at fixed paths and writes into one size-capped dir;
 * Kiln reads back only that dir, checked like a bundle (`SandboxOutput.copyTree`).
 */
export interface BuildSandbox {
  /**
   * Run `job` to its end, then hand its output to `collect` (only when the job exited by
   * itself: a job past its deadline is a 400 `build_timeout`, one killed for memory a 400
   * `build_out_of_memory`). Everything the run made is gone when the promise settles.
   */
  run<T>(job: SandboxJob, collect: (output: SandboxOutput) => Promise<T>): Promise<T>;
}

/** The fixed places a job finds things in its container. */
export const SANDBOX_PATHS = {
  /** The unpacked bundle, read-only. */
  bundle: '/src',
  /** Files Kiln wrote for this job (a javac argument file, a job description), read-only. */
  job: '/kiln',
  /** The language's shim files (what a build compiles against), read-only. */
  shim: '/opt/kiln/shim',
  /** The builder's own programs (runtimes/<lang>/build/), part of the builder image. */
  tools: '/opt/kiln/build',
  /** The one writable dir, on a size-capped tmpfs: what the job makes. */
  out: '/out',
} as const;

export interface SandboxJob {
  /** What the job is, for messages: `node build`, `java shim`. */
  what: string;
  /** The builder image's snapshot dirs, bottom first. */
  layers: string[];
  args: string[];
  /** The job's whole environment: nothing of the gateway's is passed on. */
  env: string[];
  cwd?: string;
  /** Host dir mounted read-only at `SANDBOX_PATHS.bundle`. */
  bundleDir?: string;
  /** Host dir mounted read-only at `SANDBOX_PATHS.job`. */
  jobDir?: string;
  /** Host dir mounted read-only at `SANDBOX_PATHS.shim`. */
  shimDir?: string;
  limits?: Partial<SandboxLimits>;
}

export interface SandboxLimits {
  memoryBytes: number;
  pids: number;
  /** CPU quota in cores. */
  cpus: number;
  /** Wall time from the container's start until it is killed. */
  deadlineMs: number;
  /** Bytes the output dir (and the job's stdout/stderr with it) may hold. */
  outputBytes: number;
  /** Files and dirs the output dir may hold. */
  outputFiles: number;
}

export interface SandboxOutput {
  /** The job's exit code (null when a signal ended it). */
  exitCode: number | null;
  /** The end of the job's stdout and stderr. */
  log: string;
  /**
   * Copy `rel` (a dir under the output dir) to `dest`, checked like a bundle: only files,
   * dirs and symlinks that resolve inside it; within the output's size and file caps.
   * Files become 0644 (0755 if executable), dirs 0755, all owned by Kiln.
   */
  copyTree(rel: string, dest: string): Promise<void>;
  /** A small regular file of the output (JSON the job wrote), or undefined when absent. */
  readFile(rel: string, maxBytes?: number): Promise<string | undefined>;
}
