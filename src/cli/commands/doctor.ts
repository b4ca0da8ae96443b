import type { Command } from 'commander';
import { checkHost, fixHost } from '../../runtime/host-check.js';
import { volumeUidFinding } from '../../volumes/volume-owner.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check that this host can run Kiln containers')
    .option('--fix', 'repair what can be repaired (mounts the hugetlb v1 cgroup crun needs on hybrid hosts)')
    .action(async (options: { fix?: boolean }) => {
      process.exitCode = await doctor(options);
    });
}

/** The host's findings, then the gateway's own settings that depend on the host's users. */
async function check() {
  return [...(await checkHost()), await volumeUidFinding()];
}

async function doctor(options: { fix?: boolean }): Promise<number> {
  let findings = await check();
  if (options.fix) {
    for (const change of await fixHost(findings)) console.log(`fixed: ${change}`);
    findings = await check();
  }
  for (const f of findings) {
    const mark = f.ok ? 'ok  ' : f.warnOnly ? 'warn' : 'FAIL';
    console.log(
      `${mark}  ${f.name.padEnd(15)} ${f.detail}${!f.ok && f.fix && !options.fix ? '  (kiln doctor --fix repairs this)' : ''}`,
    );
  }
  return findings.some((f) => !f.ok && !f.warnOnly) ? 1 : 0;
}
