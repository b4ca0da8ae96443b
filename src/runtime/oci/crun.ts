import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { hybridCgroup2, readMounts } from '../cgroup/host.js';
import type { HostFinding } from '../host-finding.js';
import { OciCliDriver } from './cli-driver.js';
import type { OciFeatures } from './driver.js';

const execFileP = promisify(execFile);

/**
 * crun, Kiln's preferred runtime: C, no Go runtime to start, 10–20 ms from spawn to a
 * running container here (docs/DESIGN.md §3).
 */
export class CrunDriver extends OciCliDriver {
  readonly name = 'crun';
  /** `run.oci.seccomp_bpf_data`: crun 0.16 and later (crun PR #578). */
  readonly precompiledSeccomp = true;
  /** Mount `uidMappings` (crun 1.8: `maybe_get_idmapped_mount`, open_tree + mount_setattr(MOUNT_ATTR_IDMAP)). */
  override readonly idmappedMounts = true;

  /**
   * crun 1.8 has no `features` command (later versions do): then its `--version` says
   * the spec version it implements and the libraries it was built with (`+SECCOMP`).
   */
  override async features(): Promise<OciFeatures> {
    try {
      return await super.features();
    } catch {
      const { stdout } = await execFileP(this.binary, ['--version']);
      const spec = /^spec:\s*(\S+)/m.exec(stdout)?.[1] ?? 'unknown';
      return { ociVersionMax: spec, seccomp: /\+SECCOMP\b/.test(stdout) };
    }
  }

  /**
   * crun 1.8 refuses every container ("cgroups in hybrid mode not supported") on a v1 host
   * whose cgroup2 mount holds a controller (hugetlb, here). Giving that controller a v1
   * mount of its own moves it out of cgroup2 (docs/DESIGN.md §3); `kiln doctor --fix`
   * does it.
   */
  override async hostFindings(): Promise<HostFinding[]> {
    const hybrid = await hybridCgroup2(await readMounts());
    if (!hybrid) return [];
    const stuck = hybrid.controllers;
    return [
      {
        name: 'hybrid-cgroups',
        ok: stuck.length === 0,
        detail:
          stuck.length === 0
            ? `the cgroup2 mount ${hybrid.target} holds no controller`
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
      },
    ];
  }
}
