import { describe, expect, it } from 'vitest';
import type { InstanceInfo } from '../pool/warm-pool.js';
import { statsBetween } from './instance-stats.js';

function info(id: string, cpuUsageUs: number, uptimeMs = 10_000): InstanceInfo {
  return {
    id,
    function: 'f',
    version: 1,
    state: 'idle',
    startedAs: 'cold',
    uptimeMs,
    requests: 3,
    memoryBytes: 1024,
    cpuUsageUs,
  };
}

describe('statsBetween', () => {
  it('is the CPU time used between the samples over the wall time, in % of a core', () => {
    const [s] = statsBetween([info('a', 1_000_000)], [info('a', 1_500_000)], 1000);
    expect(s).toMatchObject({ id: 'a', cpuPercent: 50, memoryBytes: 1024, requests: 3 });
    expect(statsBetween([info('a', 0)], [info('a', 2_000_000)], 1000)[0]?.cpuPercent).toBe(200);
  });

  it('measures an instance that started between the samples since its start', () => {
    expect(statsBetween([], [info('new', 250_000, 500)], 1000)[0]?.cpuPercent).toBe(50);
  });
});
