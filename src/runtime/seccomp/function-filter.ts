import type { SeccompFilter } from '../oci-spec.js';
import { compileSeccompBpf, X86_64 } from './bpf.js';
import { ociSeccomp } from './oci-seccomp.js';
import { FUNCTION_SECCOMP } from './policy.js';

/**
 * The filter function containers get, in the form the runtime takes: compiled to BPF here
 * once when the runtime loads a precompiled program and the host is x86_64 (the only table
 * of syscall numbers Kiln has), else the spec's `linux.seccomp` for libseccomp. Both are
 * FUNCTION_SECCOMP; test/containment/seccomp.test.ts runs the kernel on each.
 */
export function functionSeccompFilter(
  precompiled: boolean,
  arch: NodeJS.Architecture = process.arch,
): SeccompFilter {
  if (precompiled && arch === 'x64')
    return { bpf: compileSeccompBpf(FUNCTION_SECCOMP, X86_64).toString('base64') };
  return { oci: ociSeccomp(FUNCTION_SECCOMP, arch) };
}
