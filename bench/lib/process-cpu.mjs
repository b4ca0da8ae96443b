// CPU time of processes from /proc (utime + stime of every thread), for CPU per request: on a
// shared 2-core machine req/s moves with whatever else runs, while what each process spends
// on a request shows where the cost is (proc(5): fields 14 and 15, in clock ticks).
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

/** CPU µs the processes `pids` have used so far (a process gone counts 0). */
export function cpuMicros(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * TICK_US;
    } catch {}
  }
  return total;
}

/** The processes whose cgroup path names `id` (a Kiln container's id). */
export function pidsInCgroupOf(id) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cgroup`, 'utf8').includes(id)) pids.push(Number(name));
    } catch {}
  }
  return pids;
}

/**
 * Run `load()` (which resolves with the number of requests it made) and answer the CPU µs per
 * request of each named group of processes, and of this process (`client`: the load generator).
 */
export async function cpuPerRequest(groups, load) {
  const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, cpuMicros(pids)]));
  const client = process.cpuUsage();
  const { requests, result } = await load();
  const used = process.cpuUsage(client);
  const perRequest = (us) => (requests ? Math.round((10 * us) / requests) / 10 : undefined);
  const cpu = { client: perRequest(used.user + used.system) };
  for (const [k, pids] of Object.entries(groups)) cpu[k] = perRequest(cpuMicros(pids) - before[k]);
  return { ...result, cpuUs: cpu };
}

/**
 * ns the process has run on a CPU, all its threads (`/proc/PID/task/TID/schedstat`, first
 * field): finer than `cpuMicros`' clock ticks, for what a few thousand requests cost.
 */
export async function scheduledNs(pid) {
  let total = 0n;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0');
    total += BigInt(stat.split(' ')[0]);
  }
  return total;
}
