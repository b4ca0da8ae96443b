import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { findOnPath } from '../find-on-path.js';
import { readMounts, reportCgroups } from './cgroup/host.js';
import type { HostFinding } from './host-finding.js';
import { selectOciRuntime } from './oci/select.js';
import { uidRangeFinding } from './uid-leases.js';

const execFileP = promisify(execFile);

/**
 * Everything the container core needs from the host, checked the way it will be used:
 * root, the OCI runtime Kiln would pick (and what that runtime needs of the host, e.g.
 * crun's hybrid-cgroup rule), overlayfs, the cgroup version and its controllers, the
 * open-files limit, and the tools that build base images.
 */
export async function checkHost(): Promise<HostFinding[]> {
  const findings: HostFinding[] = [];
  const uid = process.getuid?.() ?? -1;
  findings.push({
    name: 'root',
    ok: uid === 0,
    detail: uid === 0 ? 'running as root' : 'containers need root: run as root',
  });

  const driver = await selectOciRuntime('/run/kiln').catch((err: Error) => err);
  if (driver instanceof Error) {
    findings.push({ name: 'oci-runtime', ok: false, detail: driver.message });
  } else {
    const features = await driver.features().catch(() => undefined);
    const faster = driver.name === 'crun' ? '' : ' — crun is faster: apt-get install -y crun';
    findings.push({
      name: 'oci-runtime',
      // Kiln's spec carries a seccomp filter, which a runtime built without libseccomp refuses.
      ok: features?.seccomp === true,
      detail: features
        ? `${driver.binary} (${await driver.version()}; OCI ${features.ociVersionMax}${features.seccomp ? ', seccomp' : ', built WITHOUT seccomp'})${faster}`
        : `${driver.binary} does not say what it supports`,
    });
    findings.push(...(await driver.hostFindings()));
  }

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

  const cgroups = await reportCgroups('/sys/fs/cgroup', await readMounts());
  findings.push({ name: 'cgroups', ok: cgroups.ok, detail: cgroups.detail });

  const limits = await readFile('/proc/self/limits', 'utf8');
  const nofile = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const hard = Number(nofile?.split(/\s{2,}/)[2]);
  findings.push({
    name: 'rlimit-nofile',
    ok: Number.isNaN(hard) || hard >= 1024,
    detail: `hard RLIMIT_NOFILE ${Number.isNaN(hard) ? 'unknown' : hard}; containers get at most this`,
  });

  findings.push(await uidRangeFinding());

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
