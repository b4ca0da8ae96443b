import type { InstanceInfo } from '../pool/warm-pool.js';

/** One line of `kiln stats`: an instance's use over the last sampling interval. */
export interface InstanceStats {
  id: string;
  function: string;
  version: number;
  state: string;
  /** CPU over the interval, in % of one core (200 = two cores busy), as `docker stats` shows it. */
  cpuPercent: number;
  memoryBytes: number;
  requests: number;
  uptimeMs: number;
}

/**
 * Stats from two samples of `GET /instances` taken `elapsedMs` apart: CPU % is the cgroup's
 * CPU time used in between over the wall time. An instance only in the second sample (it
 * started meanwhile) is measured since its start.
 */
export function statsBetween(
  before: readonly InstanceInfo[],
  after: readonly InstanceInfo[],
  elapsedMs: number,
): InstanceStats[] {
  const prev = new Map(before.map((i) => [i.id, i]));
  return after.map((i) => {
    const p = prev.get(i.id);
    const cpuUs = i.cpuUsageUs - (p?.cpuUsageUs ?? 0);
    const wallMs = p ? elapsedMs : Math.max(i.uptimeMs, 1);
    return {
      id: i.id,
      function: i.function,
      version: i.version,
      state: i.state,
      cpuPercent: Math.max(0, Math.round((cpuUs / 1000 / wallMs) * 1000) / 10),
      memoryBytes: i.memoryBytes,
      requests: i.requests,
      uptimeMs: i.uptimeMs,
    };
  });
}
