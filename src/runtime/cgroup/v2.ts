import { access } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerLimits } from '../oci-spec.js';
import { type Cgroup, type CgroupStats, type CgroupTree, CPU_PERIOD_US, cpuQuotaUs } from './cgroup.js';
import { flatKeyed, readCgroupFile, readCgroupNumber, waitFor, writeCgroupFile } from './cgroup-files.js';

/**
 * cgroup v2: one unified tree, every controller's files in `<root>/<cgroupsPath>/`
 * (kernel Documentation/admin-guide/cgroup-v2.rst). The freezer is part of the core
 * (`cgroup.freeze`, kernel 5.2 and later), not a controller.
 */
export class CgroupV2Tree implements CgroupTree {
  readonly version = 'v2';

  constructor(readonly root = '/sys/fs/cgroup') {}

  open(cgroupsPath: string): Cgroup {
    return new CgroupV2(path.join(this.root, cgroupsPath), cgroupsPath);
  }
}

export class CgroupV2 implements Cgroup {
  readonly version = 'v2';

  constructor(
    private readonly dir: string,
    readonly path: string,
  ) {}

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  async setLimits(limits: ContainerLimits): Promise<void> {
    // Independent files, written side by side (see CgroupV1.setLimits).
    const quota = cpuQuotaUs(limits.cpus);
    await Promise.all([
      this.setMemory(limits.memoryBytes),
      writeCgroupFile(this.file('pids.max'), String(limits.pids)),
      writeCgroupFile(this.file('cpu.max'), `${quota ?? 'max'} ${CPU_PERIOD_US}`),
    ]);
  }

  private async setMemory(limit: number): Promise<void> {
    await writeCgroupFile(this.file('memory.max'), String(limit));
    // v2 counts swap apart from memory. Kiln's spec sets OCI memory.swap (memory+swap)
    // equal to memory, which runtimes write as memory.swap.max = 0 (crun, runc: swap −
    // limit). The file exists only with swap accounting on.
    const swap = this.file('memory.swap.max');
    if (
      await access(swap).then(
        () => true,
        () => false,
      )
    )
      await writeCgroupFile(swap, '0');
  }

  async stats(): Promise<CgroupStats> {
    const [memoryBytes, cpuStat, pids, oomKills] = await Promise.all([
      readCgroupNumber(this.file('memory.current')),
      readCgroupFile(this.file('cpu.stat')),
      readCgroupNumber(this.file('pids.current')),
      this.oomKills(),
    ]);
    return { memoryBytes, cpuUsageUs: flatKeyed(cpuStat, 'usage_usec'), pids, oomKills };
  }

  async oomKills(): Promise<number> {
    return flatKeyed(await readCgroupFile(this.file('memory.events')), 'oom_kill');
  }

  async freeze(timeoutMs = 1000): Promise<void> {
    await writeCgroupFile(this.file('cgroup.freeze'), '1');
    // The write only asks; `frozen 1` in cgroup.events says every task has stopped.
    try {
      await waitFor(() => this.frozen(), timeoutMs, `freezing ${this.path}`);
    } catch (err) {
      await this.thaw().catch(() => undefined);
      throw err;
    }
  }

  async thaw(): Promise<void> {
    await writeCgroupFile(this.file('cgroup.freeze'), '0');
  }

  async frozen(): Promise<boolean> {
    return flatKeyed(await readCgroupFile(this.file('cgroup.events')), 'frozen') === 1;
  }
}
