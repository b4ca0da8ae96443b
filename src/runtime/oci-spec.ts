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
  /**
   * The uid and gid that own `source` on disk (a volume's), shown to the container as its own
   * uid and gid through an idmapped mount; absent: ids as they are on disk.
   */
  idmap?: { uid: number; gid: number };
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
  /** Bind destinations that are dirs in the image: mounted on as they are. */
  mountPointsInImage?: readonly string[];
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
  mounts: OciMount[];
  /** `cgroupsPath` is where the container's cgroup lives (`kiln/<id>`), relative to the host's cgroup root. */
  linux: { cgroupsPath: string } & Record<string, unknown>;
}

/** runtime-spec config.md, Mounts (`uidMappings`/`gidMappings`: runtime-spec 1.1, crun 1.8+). */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

const CPU_PERIOD_US = 100_000;

/**
 * A bind mount, idmapped when its source belongs to another owner (a volume, owned on disk by
 * the volume uid, src/volumes/volume-store.ts): every instance, whatever uid it runs as, sees
 * the files as its own and writes new ones as the volume uid. The mapping's direction follows
 * the kernel's idmapped mounts, not the names: an on-disk id is looked up as an id *inside*
 * the mount's user namespace (`make_vfsuid` maps it down through the idmap,
 * fs/mnt_idmapping.c), so `containerID` is the on-disk owner and `hostID` the uid the process
 * has (measured with crun 1.8.1 on 6.18: the other way round shows the files as 65534).
 * Ids outside the one-id mapping show as the overflow id (nobody) and cannot be written as.
 */
function bindMount(b: BindMount, uid: number, gid: number): OciMount {
  const mount: OciMount = {
    destination: b.destination,
    type: 'bind',
    source: b.source,
    options: ['rbind', 'nosuid', 'nodev', b.readonly ? 'ro' : 'rw'],
  };
  if (b.idmap) {
    mount.uidMappings = [{ containerID: b.idmap.uid, hostID: uid, size: 1 }];
    mount.gidMappings = [{ containerID: b.idmap.gid, hostID: gid, size: 1 }];
  }
  return mount;
}

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
      // The rootfs is read-only: a bind under /run whose mount point the image lacks (an image
      // of a shim layer from before /run/secrets was in it) gets a tmpfs /run (root's, 0755)
      // for the runtime to make it in. Not otherwise: a superblock more per instance costs
      // every memory cgroup a shrinker slot (shared-rootfs.ts).
      ...(spec.binds.some(
        (b) => b.destination.startsWith('/run/') && !spec.mountPointsInImage?.includes(b.destination),
      )
        ? [
            {
              destination: '/run',
              type: 'tmpfs',
              source: 'tmpfs',
              options: ['nosuid', 'nodev', 'noexec', 'mode=755', 'size=1m'],
            },
          ]
        : []),
      ...spec.binds.map((b) => bindMount(b, spec.uid, spec.gid)),
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
