import { execFile } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './harness.js';

/** The built CLI, as `npm i -g` would put it on PATH (`bin.kiln` in package.json). */
export const KILN_CLI = path.join(ROOT, 'dist/cli/main.js');

export interface KilnRun {
  /** the exit code (1 when it died of a signal) */
  code: number;
  stdout: string;
  stderr: string;
}

export interface KilnRunOptions {
  /** what the CLI reads on stdin; stdin is closed either way, so a command that reads it never waits */
  stdin?: string;
  /** more environment (KILN_DATA, HOME, KILN_TOKEN, …); these win over PATH and KILN_URL */
  env?: Record<string, string>;
  cwd?: string;
  /**
   * Give the CLI a terminal: it runs under util-linux `script -qec CMD /dev/null`, whose pty
   * is its stdin, stdout and stderr (so stdout and stderr arrive merged in `stdout`, with the
   * pty's `\r\n` line ends); `code` is still the CLI's own (`-e`).
   */
  tty?: boolean;
}

/**
 * Runs `kiln ARGS` as a user would, pointed at a gateway (no KILN_URL when `gatewayUrl` is
 * undefined). The child sees PATH, KILN_URL and `options.env` only, none of the test's own
 * environment, so a KILN_TOKEN or KILN_DATA of the machine running the tests cannot leak in.
 * It never throws: the exit code is returned for the test to assert on.
 */
export function runKiln(
  gatewayUrl: string | undefined,
  args: string[],
  options: KilnRunOptions = {},
): Promise<KilnRun> {
  return new Promise((resolve) => {
    const argv = [process.execPath, KILN_CLI, ...args];
    const [file, fileArgs] = options.tty
      ? ['script', ['-qec', argv.map(shellQuoted).join(' '), '/dev/null']]
      : [argv[0]!, argv.slice(1)];
    const child = execFile(
      file,
      fileArgs,
      {
        cwd: options.cwd,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ...(gatewayUrl === undefined ? {} : { KILN_URL: gatewayUrl }),
          ...options.env,
        },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.stdin ?? '');
  });
}

/** One word for `sh -c`, whatever it holds. */
function shellQuoted(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
