import { readFile, writeFile } from 'node:fs/promises';
import type { ContainerLimits } from './oci-spec.js';

/** The cgroup parent every instance lives under (`linux.cgroupsPath` = `kiln/<id>`). */
const ROOT = '/sys/fs/cgroup';

export interface CgroupStats {
  memoryBytes: number;
  oomKills: number;
}

/**
 * Reads an instance's cgroup. This host runs cgroup v1 (memory controller at
 * `/sys/fs/cgroup/memory`); on a v2 host the same numbers come from the unified tree.
 */
export class Cgroup {
  constructor(readonly id: string) {}

  async stats(): Promise<CgroupStats> {
    const v1 = `${ROOT}/memory/kiln/${this.id}`;
    const usage = await readFile(`${v1}/memory.usage_in_bytes`, 'utf8').catch(() => undefined);
    if (usage !== undefined) {
      const oom = await readFile(`${v1}/memory.oom_control`, 'utf8').catch(() => '');
      return { memoryBytes: Number(usage.trim()), oomKills: counter(oom, 'oom_kill') };
    }
    const v2 = `${ROOT}/kiln/${this.id}`;
    const current = await readFile(`${v2}/memory.current`, 'utf8').catch(() => '0');
    const events = await readFile(`${v2}/memory.events`, 'utf8').catch(() => '');
    return { memoryBytes: Number(current.trim()), oomKills: counter(events, 'oom_kill') };
  }
}

const CPU_PERIOD_US = 100_000;

/**
 * Change a running instance's limits: a stem cell starts generic and takes on its
 * function's limits when it is specialized. On v1, memory+swap must never be set below
 * memory, so the order of the two writes depends on the direction of the change.
 */
export async function setCgroupLimits(id: string, limits: ContainerLimits): Promise<void> {
  const memory = `${ROOT}/memory/kiln/${id}`;
  const current = Number((await readFile(`${memory}/memory.limit_in_bytes`, 'utf8')).trim());
  const bytes = String(limits.memoryBytes);
  const memsw = `${memory}/memory.memsw.limit_in_bytes`;
  const hasMemsw = await readFile(memsw, 'utf8').then(
    () => true,
    () => false,
  );
  if (limits.memoryBytes > current) {
    if (hasMemsw) await writeFile(memsw, bytes);
    await writeFile(`${memory}/memory.limit_in_bytes`, bytes);
  } else {
    await writeFile(`${memory}/memory.limit_in_bytes`, bytes);
    if (hasMemsw) await writeFile(memsw, bytes);
  }
  await writeFile(`${ROOT}/pids/kiln/${id}/pids.max`, String(limits.pids));
  const quota = limits.cpus === undefined ? -1 : Math.round(limits.cpus * CPU_PERIOD_US);
  await writeFile(`${ROOT}/cpu/kiln/${id}/cpu.cfs_period_us`, String(CPU_PERIOD_US));
  await writeFile(`${ROOT}/cpu/kiln/${id}/cpu.cfs_quota_us`, String(quota));
}

function counter(text: string, key: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) : 0;
}
