import type { ContainerLimits } from '../oci-spec.js';

export type CgroupVersion = 'v1' | 'v2';

/** A container's numbers, read from its cgroup. */
export interface CgroupStats {
  /** Memory charged to the cgroup now (page cache included, as the limit counts it). */
  memoryBytes: number;
  /** CPU time used since the cgroup was made, in microseconds. */
  cpuUsageUs: number;
  /** Tasks (threads) in the cgroup now: what `pids.max` limits. */
  pids: number;
  /** Processes the kernel's OOM killer killed in this cgroup. */
  oomKills: number;
}

/**
 * One container's cgroup (its OCI `linux.cgroupsPath`, `kiln/<id>`), laid out the way the
 * host's cgroup version lays it out. The OCI runtime creates it when the container starts
 * and removes it when the container's init exits; in between Kiln changes its limits (a
 * stem cell takes on its function's when it is specialized), reads its numbers, and
 * freezes and thaws it (an idle instance is frozen between requests, as Lambda and
 * OpenWhisk do: docs/DESIGN.md §8).
 */
export interface Cgroup {
  readonly version: CgroupVersion;
  /** `linux.cgroupsPath`, relative to the tree's root. */
  readonly path: string;
  /** Memory (and no swap beyond it), pids and CPU quota; fails when the cgroup refuses a write. */
  setLimits(limits: ContainerLimits): Promise<void>;
  /** Zeros for a cgroup that is already gone: an instance that just exited still lists. */
  stats(): Promise<CgroupStats>;
  oomKills(): Promise<number>;
  /** Stop every task in the cgroup; resolves once the kernel reports them all frozen. */
  freeze(timeoutMs?: number): Promise<void>;
  thaw(): Promise<void>;
  frozen(): Promise<boolean>;
}

/** The host's cgroup hierarchy (v1: one tree per controller; v2: one unified tree). */
export interface CgroupTree {
  readonly version: CgroupVersion;
  /** Where the hierarchy is mounted: `/sys/fs/cgroup`, or a fake tree in tests. */
  readonly root: string;
  open(cgroupsPath: string): Cgroup;
}

/** CFS bandwidth period: 100 ms, the kernel's default and what runc and crun write. */
export const CPU_PERIOD_US = 100_000;

/** `limits.cpus` as a CFS quota in µs per period; undefined = no quota. */
export function cpuQuotaUs(cpus: number | undefined): number | undefined {
  return cpus === undefined ? undefined : Math.round(cpus * CPU_PERIOD_US);
}
