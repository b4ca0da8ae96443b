import type { OciSpec } from '../src/runtime/oci-spec.js';

/** The parts of a pod template the kubelet turns into a container's OCI spec. */
export interface PodTemplateSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  containers: {
    env?: { name: string; value: string }[];
    resources?: { limits?: { memory?: string; cpu?: string } };
    securityContext?: {
      readOnlyRootFilesystem?: boolean;
      allowPrivilegeEscalation?: boolean;
      capabilities?: { drop?: string[] };
    };
    volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  }[];
  volumes?: { name: string; emptyDir?: { medium?: string; sizeLimit?: string } }[];
}

const CPU_PERIOD_US = 100_000;

/** A Kubernetes quantity with a binary suffix (`64Mi`) in bytes, or CPU (`500m`, `2`) in cores. */
export function quantity(value: string): number {
  const binary = /^(\d+)(Ki|Mi|Gi)$/.exec(value);
  if (binary) return Number(binary[1]) * 1024 ** (['Ki', 'Mi', 'Gi'].indexOf(binary[2]!) + 1);
  const milli = /^(\d+)m$/.exec(value);
  if (milli) return Number(milli[1]) / 1000;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  throw new Error(`quantity ${value} is not one this test reads`);
}

/**
 * What the kubelet and containerd's CRI plugin do with a pod's first container, applied to
 * the spec containerd made for the image (`ctr containers create`: args, env and cwd from
 * the image config, host network, containerd's default seccomp profile = `RuntimeDefault`).
 * ctr 1.6 has no flag for the user (`--user` came in containerd 2.0), so the whole spec is
 * handed over with `ctr run --config`; root is a path, since a spec file names no image.
 *
 * Kubernetes' rules (kubernetes.io, "Configure a Security Context for a Pod or Container";
 * containerd pkg/cri/server/container_create_linux.go): runAsUser/runAsGroup replace the
 * image's user, fsGroup joins the supplementary groups; `drop: [ALL]` leaves no capability;
 * allowPrivilegeEscalation false is no_new_privs; container env is added to the image's,
 * replacing a variable of the same name; an emptyDir of medium Memory is a tmpfs of its
 * sizeLimit; limits become the cgroup's memory limit and CFS quota.
 */
export function podOciSpec(
  image: OciSpec,
  pod: PodTemplateSpec,
  options: { rootfs: string; cgroupsPath: string; env?: Record<string, string> },
): OciSpec {
  const container = pod.containers[0];
  if (!container) throw new Error('the pod has no container');
  const security = pod.securityContext ?? {};
  const uid = security.runAsUser;
  const gid = security.runAsGroup ?? uid;
  if (uid === undefined || gid === undefined) throw new Error('the pod names no runAsUser');
  if (security.runAsNonRoot && uid === 0) throw new Error('runAsNonRoot with runAsUser 0');
  const groups = [...new Set([gid, ...(security.fsGroup === undefined ? [] : [security.fsGroup])])];

  const env = new Map(
    ((image.process.env as string[] | undefined) ?? []).map((e) => [e.slice(0, e.indexOf('=')), e] as const),
  );
  for (const { name, value } of container.env ?? []) env.set(name, `${name}=${options.env?.[name] ?? value}`);

  const ctx = container.securityContext ?? {};
  const dropAll = ctx.capabilities?.drop?.includes('ALL') ?? false;
  const capabilities = dropAll
    ? { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] }
    : image.process.capabilities;

  const mounts = [...image.mounts];
  for (const m of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === m.name);
    if (!volume?.emptyDir) throw new Error(`volume ${m.name}: only emptyDir is mounted by this test`);
    const size = volume.emptyDir.sizeLimit ? [`size=${quantity(volume.emptyDir.sizeLimit)}`] : [];
    if (volume.emptyDir.medium !== 'Memory') throw new Error(`volume ${m.name}: only medium Memory`);
    mounts.push({
      destination: m.mountPath,
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'mode=1777', ...size, ...(m.readOnly ? ['ro'] : [])],
    });
  }

  const limits = container.resources?.limits ?? {};
  const resources = { ...((image.linux.resources as Record<string, unknown> | undefined) ?? {}) };
  if (limits.memory) {
    const bytes = quantity(limits.memory);
    resources.memory = { limit: bytes, swap: bytes };
  }
  if (limits.cpu) {
    resources.cpu = { quota: Math.round(quantity(limits.cpu) * CPU_PERIOD_US), period: CPU_PERIOD_US };
  }

  return {
    ...image,
    process: {
      ...image.process,
      user: { uid, gid, additionalGids: groups },
      env: [...env.values()],
      capabilities,
      noNewPrivileges: ctx.allowPrivilegeEscalation === false ? true : image.process.noNewPrivileges,
    },
    root: { path: options.rootfs, readonly: ctx.readOnlyRootFilesystem === true },
    mounts,
    linux: { ...image.linux, cgroupsPath: options.cgroupsPath, resources },
  };
}
