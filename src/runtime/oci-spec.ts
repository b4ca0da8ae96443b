/**
 * Builds the OCI runtime spec (`config.json`) for one instance. Pure: same input, same
 * spec, so it is unit-tested without a container. The spec is data handed to crun/runc,
 * the way both runtimes' own tooling treats it.
 */

import type { OciSeccomp } from './seccomp/oci-seccomp.js';

export interface BindMount {
  source: string;
  destination: string;
  readonly?: boolean;
}

export interface ContainerLimits {
  memoryBytes: number;
  /** pids.max counts threads: node needs at least 32, the JVM more; too low hangs rather than fails. */
  pids: number;
  /** CPU quota in cores (0.5 = half a core); undefined = no quota. */
  cpus?: number;
}

export interface ContainerSpec {
  id: string;
  hostname: string;
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  limits: ContainerLimits;
  binds: BindMount[];
  tmpSizeMb: number;
  /** RLIMIT_NOFILE for the process; must stay at or below the host's hard limit. */
  nofile: number;
  /**
   * The syscall filter (src/runtime/seccomp): a BPF program compiled by Kiln, for a runtime
   * that loads one (`OciRuntimeDriver.precompiledSeccomp`), or the spec's own section.
   */
  seccomp: SeccompFilter;
}

/** `bpf`: the program's bytes, base64 (the annotation's form), encoded once per gateway. */
export type SeccompFilter = { bpf: string } | { oci: OciSeccomp };

export interface OciSpec {
  ociVersion: string;
  process: Record<string, unknown>;
  root: { path: string; readonly: boolean };
  hostname: string;
  annotations?: Record<string, string>;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  /** `cgroupsPath` is where the container's cgroup lives (`kiln/<id>`), relative to the host's cgroup root. */
  linux: { cgroupsPath: string } & Record<string, unknown>;
}

const CPU_PERIOD_US = 100_000;

export function buildOciSpec(spec: ContainerSpec): OciSpec {
  const resources: Record<string, unknown> = {
    devices: [{ allow: false, access: 'rwm' }],
    memory: { limit: spec.limits.memoryBytes, swap: spec.limits.memoryBytes },
    pids: { limit: spec.limits.pids },
  };
  if (spec.limits.cpus !== undefined) {
    resources.cpu = { quota: Math.round(spec.limits.cpus * CPU_PERIOD_US), period: CPU_PERIOD_US };
  }
  const oci: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: spec.uid, gid: spec.gid },
      args: spec.args,
      env: spec.env,
      cwd: spec.cwd,
      // A non-root process with no capabilities at all.
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: spec.nofile, soft: spec.nofile }],
      noNewPrivileges: true,
    },
    root: { path: spec.rootfs, readonly: true },
    hostname: spec.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
      {
        destination: '/tmp',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', 'mode=1777', `size=${spec.tmpSizeMb}m`],
      },
      // The rootfs is read-only and has no /run/secrets: a bind under /run gets a tmpfs /run
      // (root's, 0755) for crun to make its mount point in.
      ...(spec.binds.some((b) => b.destination.startsWith('/run/'))
        ? [
            {
              destination: '/run',
              type: 'tmpfs',
              source: 'tmpfs',
              options: ['nosuid', 'nodev', 'noexec', 'mode=755', 'size=1m'],
            },
          ]
        : []),
      ...spec.binds.map((b) => ({
        destination: b.destination,
        type: 'bind',
        source: b.source,
        options: ['rbind', 'nosuid', 'nodev', b.readonly ? 'ro' : 'rw'],
      })),
    ],
    linux: {
      cgroupsPath: `kiln/${spec.id}`,
      resources,
      // Network: a namespace of its own holding only loopback.
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      // /sys/fs/cgroup too: on cgroup v1 crun 1.8 mounts a 1 MiB tmpfs there that anyone may
      // write (its `ro` option notwithstanding: test/containment/writable-paths.test.ts).
      readonlyPaths: [
        '/proc/bus',
        '/proc/fs',
        '/proc/irq',
        '/proc/sys',
        '/proc/sysrq-trigger',
        '/sys/fs/cgroup',
      ],
    },
  };
  // A runtime given the annotation ignores `linux.seccomp` (crun's run.oci.seccomp_bpf_data):
  // only one of the two is written, so the spec says which filter runs.
  if ('bpf' in spec.seccomp) oci.annotations = { 'run.oci.seccomp_bpf_data': spec.seccomp.bpf };
  else oci.linux.seccomp = spec.seccomp.oci;
  return oci;
}
