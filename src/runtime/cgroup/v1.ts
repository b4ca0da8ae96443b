import path from 'node:path';
import type { ContainerLimits } from '../oci-spec.js';
import { type Cgroup, type CgroupStats, type CgroupTree, CPU_PERIOD_US, cpuQuotaUs } from './cgroup.js';
import { flatKeyed, readCgroupFile, readCgroupNumber, waitFor, writeCgroupFile } from './cgroup-files.js';

/**
 * cgroup v1: one hierarchy per controller, `<root>/<controller>/<cgroupsPath>` (kernel
 * Documentation/admin-guide/cgroup-v1/). Distributions that co-mount cpu and cpuacct link
 * both names to the joint mount, so `<root>/cpu` and `<root>/cpuacct` resolve either way.
 */
export class CgroupV1Tree implements CgroupTree {
  readonly version = 'v1';

  constructor(readonly root = '/sys/fs/cgroup') {}

  open(cgroupsPath: string): Cgroup {
    return new CgroupV1(this.root, cgroupsPath);
  }
}

export class CgroupV1 implements Cgroup {
  readonly version = 'v1';

  constructor(
    private readonly root: string,
    readonly path: string,
  ) {}

  private file(controller: string, name: string): string {
    return path.join(this.root, controller, this.path, name);
  }

  async setLimits(limits: ContainerLimits): Promise<void> {
    // One controller's files are independent of another's: written side by side, a stem
    // cell's specialize waits for one thread-pool round trip per controller instead of seven
    // in a row (issue 17).
    await Promise.all([
      this.setMemory(limits.memoryBytes),
      writeCgroupFile(this.file('pids', 'pids.max'), String(limits.pids)),
      this.setCpu(limits.cpus),
    ]);
  }

  private async setMemory(limit: number): Promise<void> {
    const memory = this.file('memory', 'memory.limit_in_bytes');
    const memsw = this.file('memory', 'memory.memsw.limit_in_bytes');
    const bytes = String(limit);
    // memory+swap may never be below memory (the kernel answers EINVAL), so the order of
    // the two writes follows the direction of the change. memsw exists only with swap
    // accounting on (swapaccount=1).
    const [memswNow, current] = await Promise.all([readCgroupFile(memsw), readCgroupNumber(memory)]);
    const hasMemsw = memswNow !== '';
    if (limit > current) {
      if (hasMemsw) await writeCgroupFile(memsw, bytes);
      await writeCgroupFile(memory, bytes);
    } else {
      await writeCgroupFile(memory, bytes);
      if (hasMemsw) await writeCgroupFile(memsw, bytes);
    }
  }

  private async setCpu(cpus: number | undefined): Promise<void> {
    await writeCgroupFile(this.file('cpu', 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    await writeCgroupFile(this.file('cpu', 'cpu.cfs_quota_us'), String(cpuQuotaUs(cpus) ?? -1));
  }

  async stats(): Promise<CgroupStats> {
    const [memoryBytes, cpuNs, pids, oomKills] = await Promise.all([
      readCgroupNumber(this.file('memory', 'memory.usage_in_bytes')),
      readCgroupNumber(this.file('cpuacct', 'cpuacct.usage')),
      readCgroupNumber(this.file('pids', 'pids.current')),
      this.oomKills(),
    ]);
    return { memoryBytes, cpuUsageUs: Math.floor(cpuNs / 1000), pids, oomKills };
  }

  async oomKills(): Promise<number> {
    // `oom_kill` in memory.oom_control: kernel 4.13 and later.
    return flatKeyed(await readCgroupFile(this.file('memory', 'memory.oom_control')), 'oom_kill');
  }

  async freeze(timeoutMs = 1000): Promise<void> {
    const state = this.file('freezer', 'freezer.state');
    // FREEZING means some task is not frozen yet; writing FROZEN again retries it
    // (cgroup-v1/freezer-subsystem.rst; runc's fs freezer loops the same way).
    try {
      await waitFor(
        async () => {
          await writeCgroupFile(state, 'FROZEN');
          return (await readCgroupFile(state)) === 'FROZEN';
        },
        timeoutMs,
        `freezing ${this.path}`,
      );
    } catch (err) {
      await this.thaw().catch(() => undefined);
      throw err;
    }
  }

  async thaw(): Promise<void> {
    await writeCgroupFile(this.file('freezer', 'freezer.state'), 'THAWED');
  }

  async frozen(): Promise<boolean> {
    return (await readCgroupFile(this.file('freezer', 'freezer.state'))) === 'FROZEN';
  }
}
