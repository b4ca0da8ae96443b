import { describe, expect, it } from 'vitest';
import { buildOciSpec, type ContainerSpec } from './oci-spec.js';
import { ociSeccomp } from './seccomp/oci-seccomp.js';
import { FUNCTION_SECCOMP } from './seccomp/policy.js';

const base: ContainerSpec = {
  id: 'k1',
  hostname: 'hello',
  rootfs: '/var/lib/kiln/instances/k1/rootfs',
  args: ['/usr/local/bin/node', '/opt/kiln/shim/main.mjs'],
  env: ['PATH=/usr/bin'],
  cwd: '/fn',
  uid: 100_007,
  gid: 100_007,
  limits: { memoryBytes: 128 * 1024 * 1024, pids: 64 },
  binds: [],
  tmpSizeMb: 64,
  nofile: 4096,
  seccomp: { oci: ociSeccomp(FUNCTION_SECCOMP, 'x64') },
};

describe('buildOciSpec', () => {
  it('isolates the instance in its own pid, mount, ipc, uts and network namespaces', () => {
    const spec = buildOciSpec(base);
    const types = (spec.linux.namespaces as { type: string }[]).map((n) => n.type).sort();
    expect(types).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(spec.hostname).toBe('hello');
  });

  it('turns the limits into cgroup resources under kiln/<id>', () => {
    const spec = buildOciSpec({ ...base, limits: { memoryBytes: 256 * 1024 * 1024, pids: 100, cpus: 0.5 } });
    expect(spec.linux.cgroupsPath).toBe('kiln/k1');
    expect(spec.linux.resources).toMatchObject({
      memory: { limit: 268435456, swap: 268435456 },
      pids: { limit: 100 },
      cpu: { quota: 50_000, period: 100_000 },
    });
    expect(buildOciSpec(base).linux.resources).not.toHaveProperty('cpu');
  });

  it('runs an unprivileged process on a read-only root', () => {
    const spec = buildOciSpec(base);
    expect(spec.root).toEqual({ path: base.rootfs, readonly: true });
    expect(spec.process.user).toEqual({ uid: 100_007, gid: 100_007 });
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(Object.values(spec.process.capabilities as Record<string, string[]>).flat()).toEqual([]);
    expect(spec.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 4096, soft: 4096 }]);
  });

  it('mounts a tmpfs /tmp and the bind mounts it was given', () => {
    const spec = buildOciSpec({
      ...base,
      binds: [...base.binds, { source: '/host/fn', destination: '/fn', readonly: true }],
    });
    expect(spec.mounts.find((m) => m.destination === '/tmp')).toMatchObject({
      type: 'tmpfs',
      options: expect.arrayContaining(['size=64m']),
    });
    // The only bind mounts are the ones asked for, read-only here: no writable host path.
    expect(spec.mounts.filter((m) => m.type === 'bind')).toHaveLength(1);
    expect(spec.mounts.find((m) => m.destination === '/fn')).toMatchObject({
      source: '/host/fn',
      options: expect.arrayContaining(['ro']),
    });
  });

  it('puts a root-owned tmpfs /run under a bind mount at /run/secrets the image lacks, before it, and only then', () => {
    expect(buildOciSpec(base).mounts.some((m) => m.destination === '/run')).toBe(false);
    const spec = buildOciSpec({
      ...base,
      binds: [{ source: '/host/secrets', destination: '/run/secrets', readonly: true }],
    });
    const at = (d: string) => spec.mounts.findIndex((m) => m.destination === d);
    expect(spec.mounts[at('/run')]).toMatchObject({
      type: 'tmpfs',
      options: expect.arrayContaining(['mode=755']),
    });
    expect(at('/run')).toBeLessThan(at('/run/secrets'));
    expect(spec.mounts[at('/run/secrets')]?.options).toContain('ro');
  });

  it("mounts on the image's own /run mount points without a tmpfs /run, unless a bind lacks one", () => {
    const binds = [
      { source: '/host/secrets', destination: '/run/secrets', readonly: true },
      { source: '/host/calls', destination: '/run/kiln', readonly: true },
    ];
    const inImage = buildOciSpec({ ...base, binds, mountPointsInImage: ['/run/secrets', '/run/kiln'] });
    expect(inImage.mounts.some((m) => m.destination === '/run')).toBe(false);
    expect(inImage.mounts.filter((m) => m.destination.startsWith('/run/'))).toHaveLength(2);
    const oneLacking = buildOciSpec({ ...base, binds, mountPointsInImage: ['/run/kiln'] });
    expect(oneLacking.mounts.some((m) => m.destination === '/run')).toBe(true);
  });

  it("idmaps a volume's bind mount: its on-disk owner shown as the instance's uid and gid", () => {
    const spec = buildOciSpec({
      ...base,
      binds: [
        { source: '/host/fn', destination: '/fn', readonly: true },
        { source: '/data/volumes/cache/data', destination: '/data', idmap: { uid: 99_999, gid: 99_998 } },
        {
          source: '/data/volumes/conf/data',
          destination: '/etc-app',
          readonly: true,
          idmap: { uid: 99_999, gid: 99_999 },
        },
      ],
    });
    const at = (d: string) => spec.mounts.find((m) => m.destination === d);
    expect(at('/data')).toEqual({
      destination: '/data',
      type: 'bind',
      source: '/data/volumes/cache/data',
      options: ['rbind', 'nosuid', 'nodev', 'rw'],
      // containerID: the id on disk; hostID: the process's (fs/mnt_idmapping.c's direction).
      uidMappings: [{ containerID: 99_999, hostID: 100_007, size: 1 }],
      gidMappings: [{ containerID: 99_998, hostID: 100_007, size: 1 }],
    });
    expect(at('/etc-app')?.options).toContain('ro');
    // A bind of the gateway's own dirs (code, secrets) is not idmapped.
    expect(at('/fn')).not.toHaveProperty('uidMappings');
    expect(at('/fn')).not.toHaveProperty('gidMappings');
  });

  it('denies syscalls by default with the policy in linux.seccomp, or carries a compiled program', () => {
    const spec = buildOciSpec(base);
    expect(spec.linux.seccomp).toMatchObject({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64'],
    });
    expect(spec.annotations).toBeUndefined();
    const compiled = buildOciSpec({ ...base, seccomp: { bpf: 'AAAA' } });
    expect(compiled.annotations).toEqual({ 'run.oci.seccomp_bpf_data': 'AAAA' });
    expect(compiled.linux.seccomp).toBeUndefined();
  });

  it('is pure: the same input gives the same spec', () => {
    expect(JSON.stringify(buildOciSpec(base))).toBe(JSON.stringify(buildOciSpec(structuredClone(base))));
  });
});
