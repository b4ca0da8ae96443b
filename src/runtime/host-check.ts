import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { hybridCgroup2, readMounts, reportCgroups } from './cgroup/host.js';
import { findOnPath } from './oci-runtime.js';

const execFileP = promisify(execFile);

export interface HostFinding {
  name: string;
  ok: boolean;
  detail: string;
  /** Set when Kiln can repair the problem itself (`kiln doctor --fix`). */
  fix?: () => Promise<string>;
  /** A problem that limits a feature but does not stop containers from running. */
  warnOnly?: boolean;
}

/**
 * Everything the container core needs from the host, checked the way it will be used.
 * The one repair Kiln makes: crun 1.8 refuses every container ("cgroups in hybrid mode
 * not supported") while a hybrid host's cgroup2 mount holds `hugetlb`; giving hugetlb
 * a v1 mount of its own moves it out of cgroup2 (docs/DESIGN.md §3).
 */
export async function checkHost(): Promise<HostFinding[]> {
  const findings: HostFinding[] = [];
  const uid = process.getuid?.() ?? -1;
  findings.push({
    name: 'root',
    ok: uid === 0,
    detail: uid === 0 ? 'running as root' : 'containers need root: run as root',
  });

  const crun = await findOnPath('crun');
  const runc = await findOnPath('runc');
  const runtime = crun ?? runc;
  let runtimeDetail = 'neither crun nor runc found: apt-get install -y crun';
  if (runtime) {
    const { stdout } = await execFileP(runtime, ['--version']).catch(() => ({ stdout: '' }));
    runtimeDetail = `${runtime} (${stdout.split('\n')[0]})${crun ? '' : ' — crun is faster: apt-get install -y crun'}`;
  }
  findings.push({ name: 'oci-runtime', ok: runtime !== undefined, detail: runtimeDetail });

  const filesystems = await readFile('/proc/filesystems', 'utf8');
  findings.push({
    name: 'overlayfs',
    ok: /\boverlay\b/.test(filesystems),
    detail: /\boverlay\b/.test(filesystems) ? 'overlay filesystem available' : 'overlayfs missing',
    fix: async () => {
      await execFileP('modprobe', ['overlay']);
      return 'loaded the overlay module';
    },
  });

  const table = await readMounts();
  const cgroups = await reportCgroups('/sys/fs/cgroup', table);
  findings.push({ name: 'cgroups', ok: cgroups.ok, detail: cgroups.detail });
  const hybrid = cgroups.version === 'v1' ? await hybridCgroup2(table) : undefined;
  if (hybrid) {
    const stuck = hybrid.controllers;
    findings.push({
      name: 'hybrid-cgroups',
      ok: stuck.length === 0 || !crun,
      detail:
        stuck.length === 0
          ? 'no controller held by the cgroup2 mount'
          : `the cgroup2 mount ${hybrid.target} holds ${stuck.join(', ')}: crun refuses to run containers ("cgroups in hybrid mode not supported")`,
      fix: async () => {
        const done: string[] = [];
        for (const controller of stuck) {
          const target = `/sys/fs/cgroup/${controller}`;
          await mkdir(target, { recursive: true });
          await execFileP('mount', ['-t', 'cgroup', '-o', controller, 'cgroup', target]);
          done.push(`mounted the ${controller} cgroup v1 hierarchy at ${target}`);
        }
        return done.join('; ');
      },
    });
  }

  const limits = await readFile('/proc/self/limits', 'utf8');
  const nofile = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const hard = Number(nofile?.split(/\s{2,}/)[2]);
  findings.push({
    name: 'rlimit-nofile',
    ok: Number.isNaN(hard) || hard >= 1024,
    detail: `hard RLIMIT_NOFILE ${Number.isNaN(hard) ? 'unknown' : hard}; containers get at most this`,
  });

  for (const [tool, why] of [
    ['debootstrap', 'builds the os base layer (apt-get install -y debootstrap)'],
    ['npm', 'fetches the node runtime layer'],
    ['mount', 'mounts overlay rootfs'],
  ] as const) {
    const found = await findOnPath(tool);
    findings.push({
      name: tool,
      ok: found !== undefined,
      detail: found ? `${found}: ${why}` : `missing: ${why}`,
      warnOnly: tool !== 'mount',
    });
  }
  return findings;
}

/** Run the fixes for failing findings; returns what changed. */
export async function fixHost(findings: HostFinding[]): Promise<string[]> {
  const changes: string[] = [];
  for (const finding of findings) {
    if (!finding.ok && finding.fix) changes.push(await finding.fix());
  }
  return changes;
}
