import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KilnError } from '../../errors.js';
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
   * What `crun start` does for a container with no poststart hooks and no notify socket
   * (Kiln's have neither), without spawning crun (~6 ms of a cold start's critical path
   * here, issue 17): open the state dir's `exec.fifo` for writing, unlink it (crun's
   * `state` then says running) and write one byte, which the container's init waits for
   * before it execs the process (crun 1.8.1 src/libcrun/container.c
   * `libcrun_container_start` → src/libcrun/status.c `libcrun_status_write_exec_fifo`).
   * O_NONBLOCK: with no reader (the init died) the open fails with ENXIO instead of
   * waiting forever.
   */
  override async start(id: string): Promise<void> {
    const fifo = path.join(this.stateRoot, id, 'exec.fifo');
    let handle: FileHandle;
    try {
      handle = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw new KilnError(
        'container_start_failed',
        `crun start ${id}: the container is not waiting to start (${(err as NodeJS.ErrnoException).code})`,
        500,
      );
    }
    try {
      await unlink(fifo);
      await handle.write(Buffer.alloc(1));
    } finally {
      await handle.close();
    }
  }

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
