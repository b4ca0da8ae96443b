import type { ArgCheck, SeccompPolicy } from './policy.js';

/** `linux.seccomp` of the OCI runtime spec (config-linux.md#seccomp). */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: {
    names: string[];
    action: string;
    errnoRet?: number;
    args?: { index: number; value: number; valueTwo?: number; op: string }[];
  }[];
}

/** The OCI name of the only ABI a container may use: the host's own (no 32-bit or x32 calls). */
export function ociArchitecture(arch: NodeJS.Architecture = process.arch): string {
  if (arch === 'x64') return 'SCMP_ARCH_X86_64';
  if (arch === 'arm64') return 'SCMP_ARCH_AARCH64';
  throw new Error(`no seccomp policy for ${arch}`);
}

/** The policy as the OCI spec's seccomp section: the runtime compiles it with libseccomp. */
export function ociSeccomp(policy: SeccompPolicy, arch: NodeJS.Architecture = process.arch): OciSeccomp {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: policy.defaultErrno,
    architectures: [ociArchitecture(arch)],
    syscalls: [
      { names: [...policy.allow], action: 'SCMP_ACT_ALLOW' },
      ...policy.allowIf.map((rule) => ({
        names: [rule.name],
        action: 'SCMP_ACT_ALLOW',
        args: rule.args.map(ociArg),
      })),
      ...policy.refuse.map((rule) => ({
        names: [rule.name],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: rule.errno,
      })),
    ],
  };
}

function ociArg(check: ArgCheck) {
  // libseccomp's SCMP_CMP_MASKED_EQ(mask, datum) is OCI's value = mask, valueTwo = datum.
  return check.op === 'eq'
    ? { index: check.index, value: check.value, op: 'SCMP_CMP_EQ' }
    : { index: check.index, value: check.mask, valueTwo: check.value, op: 'SCMP_CMP_MASKED_EQ' };
}
