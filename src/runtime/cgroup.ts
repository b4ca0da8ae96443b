import { readFile } from 'node:fs/promises';

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

function counter(text: string, key: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) : 0;
}
