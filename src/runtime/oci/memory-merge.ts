import { readFile } from 'node:fs/promises';
import { switchFromEnv } from '../../env-switch.js';

/**
 * Kernel same-page merging for function containers, opt-in (`KILN_KSM=1`, docs/SECURITY.md:
 * it merges identical pages across tenants, a known side channel). The OCI runtime is started
 * through this perl one-liner, which sets PR_SET_MEMORY_MERGE (prctl 67, Linux 6.4) on itself
 * and execs the runtime: the flag survives exec and fork (measured on 6.18: /proc/PID/ksm_stat
 * of the container's process says `ksm_merge_any: yes`), so the container's process has all
 * its anonymous memory offered to ksmd. Measured (issue 9): 1000 idle node instances with ksmd
 * on took 9.4 MiB of host memory each instead of 9.6 (0.79 MiB merged, ~0.4 MiB of ksmd's
 * rmap items back).
 */
export const MERGE_MEMORY_SCRIPT = `syscall(157, 67, 1, 0, 0, 0) == 0 or die "kiln: prctl(PR_SET_MEMORY_MERGE): $!\\n";
exec { $ARGV[0] } @ARGV or die "kiln: exec $ARGV[0]: $!\\n";`;

/** `argv` run with PR_SET_MEMORY_MERGE set: `[program, args]` for spawn. */
export function mergingMemory(argv: string[]): [string, string[]] {
  return ['perl', ['-e', MERGE_MEMORY_SCRIPT, ...argv]];
}

/** `KILN_KSM`: `1` opts in to same-page merging of containers' memory; unset or `0`, off. */
export function ksmFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return switchFromEnv(env, 'KILN_KSM', false, { on: "merge containers' memory" });
}

/** Why merging would do nothing on this host (ksmd is off), or undefined when ksmd runs. */
export async function ksmdOff(runFile = '/sys/kernel/mm/ksm/run'): Promise<string | undefined> {
  const run = (await readFile(runFile, 'utf8').catch(() => '')).trim();
  if (run === '1') return undefined;
  return run === ''
    ? 'this kernel has no KSM (/sys/kernel/mm/ksm/run is missing)'
    : `ksmd is not running (/sys/kernel/mm/ksm/run is ${run}): echo 1 > /sys/kernel/mm/ksm/run`;
}
