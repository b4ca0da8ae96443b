import type { ArgCheck, SeccompPolicy } from './policy.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';

/**
 * Compiles a `SeccompPolicy` to a classic BPF program for `seccomp(SECCOMP_SET_MODE_FILTER)`,
 * which crun loads as is from the `run.oci.seccomp_bpf_data` annotation (base64). libseccomp
 * does the same work inside crun at every container start, and for an allow list that work
 * cost ~7 ms of each `crun run` here (docs/DESIGN.md §3); compiled once in the gateway, the
 * filter is free at start.
 *
 * The program (seccomp_data and return values: linux/seccomp.h; instructions: linux/filter.h,
 * Documentation/userspace-api/seccomp_filter.rst):
 *   1. the ABI (`seccomp_data.arch`) must be the target's, else the process is killed: no
 *      32-bit (`int 0x80`) calls, whose numbers differ and whose `socketcall` hides socket
 *      arguments from the filter;
 *   2. x32 calls (the same arch, numbers with bit 30 set) likewise;
 *   3. a balanced binary search over the syscall number (a few comparisons per syscall, where
 *      a linear list would take up to one per allowed name) ends at a return, or at the
 *      argument checks of a conditional syscall;
 *   4. numbers past the table's last are syscalls newer than it: ENOSYS, so libc falls back as
 *      on an older kernel (runc does the same); any other number the policy does not allow
 *      gets the policy's errno.
 */

export interface BpfTarget {
  name: string;
  /** AUDIT_ARCH_* (linux/audit.h): what the kernel puts in `seccomp_data.arch`. */
  auditArch: number;
  syscalls: Readonly<Record<string, number>>;
  /** Numbers at or above this belong to another ABI on the same arch (x32), or undefined. */
  foreignAbiBase: number | undefined;
}

export const X86_64: BpfTarget = {
  name: 'x86_64',
  auditArch: 0xc000003e, // EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
  syscalls: X86_64_SYSCALLS,
  foreignAbiBase: 0x40000000, // __X32_SYSCALL_BIT
};

// Return values (linux/seccomp.h).
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
const ENOSYS = 38;

// Instruction classes and fields (linux/bpf_common.h).
export const BPF_LD_W_ABS = 0x00 | 0x00 | 0x20; // BPF_LD | BPF_W | BPF_ABS
export const BPF_JMP_JA = 0x05 | 0x00; // BPF_JMP | BPF_JA
export const BPF_JMP_JEQ_K = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
export const BPF_JMP_JGE_K = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K
export const BPF_ALU_AND_K = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
export const BPF_RET_K = 0x06; // BPF_RET | BPF_K
/** BPF_MAXINSNS: the kernel refuses longer programs. */
const MAX_INSNS = 4096;

// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARGS = 16;

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

type Leaf = { ret: number } | { rules: readonly (readonly ArgCheck[])[]; otherwise: number };
interface Segment {
  /** First syscall number of the segment; it runs up to the next segment's first. */
  from: number;
  leaf: Leaf;
}

/** The policy as BPF instructions for `target` (the host's ABI). */
export function compileSeccompProgram(policy: SeccompPolicy, target: BpfTarget = X86_64): BpfInsn[] {
  const segments = segmentsOf(policy, target);
  const program: BpfInsn[] = [
    stmt(BPF_LD_W_ABS, OFFSET_ARCH),
    jump(BPF_JMP_JEQ_K, target.auditArch, 1, 0),
    stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
    stmt(BPF_LD_W_ABS, OFFSET_NR),
    ...searchTree(segments),
  ];
  if (program.length > MAX_INSNS) throw new Error(`seccomp program has ${program.length} instructions`);
  return program;
}

/** The program as the bytes of a `struct sock_filter` array, base64 for crun's annotation. */
export function compileSeccompBpf(policy: SeccompPolicy, target: BpfTarget = X86_64): Buffer {
  const program = compileSeccompProgram(policy, target);
  const out = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    // writeUInt8 throws past 255: a jump the tree layout got wrong never reaches the kernel.
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(insn.jt, i * 8 + 2);
    out.writeUInt8(insn.jf, i * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}

/** What each syscall number gets, as contiguous segments covering 0..2^32-1. */
function segmentsOf(policy: SeccompPolicy, target: BpfTarget): Segment[] {
  const numberOf = (name: string): number => {
    const nr = target.syscalls[name];
    if (nr === undefined) throw new Error(`seccomp: no syscall "${name}" on ${target.name}`);
    return nr;
  };
  const deny = SECCOMP_RET_ERRNO | policy.defaultErrno;
  const leaves = new Map<number, Leaf>();
  const claim = (name: string, leaf: Leaf) => {
    const nr = numberOf(name);
    if (leaves.has(nr)) throw new Error(`seccomp: "${name}" has more than one rule kind`);
    leaves.set(nr, leaf);
  };
  for (const name of policy.allow) claim(name, { ret: SECCOMP_RET_ALLOW });
  for (const rule of policy.refuse) claim(rule.name, { ret: SECCOMP_RET_ERRNO | rule.errno });
  const conditional = new Map<string, (readonly ArgCheck[])[]>();
  for (const rule of policy.allowIf) {
    for (const check of rule.args) validateCheck(rule.name, check);
    if (new Set(rule.args.map((c) => c.index)).size !== rule.args.length)
      throw new Error(`seccomp: a "${rule.name}" rule checks one argument twice`);
    conditional.set(rule.name, [...(conditional.get(rule.name) ?? []), rule.args]);
  }
  for (const [name, rules] of conditional) claim(name, { rules, otherwise: deny });

  const last = Math.max(...Object.values(target.syscalls));
  const segments: Segment[] = [];
  const push = (from: number, leaf: Leaf) => {
    const prev = segments.at(-1);
    if (prev && 'ret' in prev.leaf && 'ret' in leaf && prev.leaf.ret === leaf.ret) return;
    segments.push({ from, leaf });
  };
  for (let nr = 0; nr <= last; nr++) push(nr, leaves.get(nr) ?? { ret: deny });
  push(last + 1, { ret: SECCOMP_RET_ERRNO | ENOSYS });
  if (target.foreignAbiBase !== undefined) push(target.foreignAbiBase, { ret: SECCOMP_RET_KILL_PROCESS });
  return segments;
}

function validateCheck(name: string, check: ArgCheck): void {
  const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
  if (!Number.isInteger(check.index) || check.index < 0 || check.index > 5)
    throw new Error(`seccomp: "${name}" checks argument ${check.index}`);
  // Values and masks fit the low 32 bits of the argument (see argChecks).
  if (
    !u32(check.value) ||
    (check.op === 'masked_eq' && (!u32(check.mask) || (check.value & ~check.mask) !== 0))
  )
    throw new Error(`seccomp: "${name}" has a check this compiler cannot express: ${JSON.stringify(check)}`);
}

/**
 * A search over `segments` (sorted by `from`; A holds the syscall number): every path ends
 * in a return. Jumps are forward only with 8-bit offsets: a far jump goes through `ja`.
 */
function searchTree(segments: readonly Segment[]): BpfInsn[] {
  if (segments.length === 1) return leafCode(segments[0]!.leaf);
  const mid = Math.ceil(segments.length / 2);
  const left = searchTree(segments.slice(0, mid));
  const right = searchTree(segments.slice(mid));
  const pivot = segments[mid]!.from;
  if (left.length <= 255) return [jump(BPF_JMP_JGE_K, pivot, left.length, 0), ...left, ...right];
  return [jump(BPF_JMP_JGE_K, pivot, 0, 1), stmt(BPF_JMP_JA, left.length), ...left, ...right];
}

function leafCode(leaf: Leaf): BpfInsn[] {
  if ('ret' in leaf) return [stmt(BPF_RET_K, leaf.ret)];
  const code: BpfInsn[] = [];
  // Rules are alternatives: the first whose checks all hold allows; a failed check jumps
  // to the next rule; after the last, the syscall is denied.
  for (const rule of leaf.rules) {
    const block = [...rule.flatMap(argChecks), stmt(BPF_RET_K, SECCOMP_RET_ALLOW)];
    block.forEach((insn, i) => {
      if (insn.jf === FAIL_MARK) insn.jf = block.length - (i + 1);
    });
    code.push(...block);
  }
  code.push(stmt(BPF_RET_K, leaf.otherwise));
  return code;
}

/** Not a valid 8-bit offset: replaced once the rule's length is known. */
const FAIL_MARK = 0x1ff;

/**
 * One check as instructions that fall through when it holds and jump by FAIL_MARK when it
 * does not. Arguments are 64 bits, read as two 32-bit words (little-endian: low word first).
 * An equality needs the high word to be 0, as libseccomp's 64-bit SCMP_CMP_EQ does; a
 * masked equality with a 32-bit mask looks at the low word only (its high mask is 0).
 */
function argChecks(check: ArgCheck): BpfInsn[] {
  const low = OFFSET_ARGS + 8 * check.index;
  if (check.op === 'eq') {
    return [
      stmt(BPF_LD_W_ABS, low + 4),
      jump(BPF_JMP_JEQ_K, 0, 0, FAIL_MARK),
      stmt(BPF_LD_W_ABS, low),
      jump(BPF_JMP_JEQ_K, check.value, 0, FAIL_MARK),
    ];
  }
  return [
    stmt(BPF_LD_W_ABS, low),
    stmt(BPF_ALU_AND_K, check.mask),
    jump(BPF_JMP_JEQ_K, check.value, 0, FAIL_MARK),
  ];
}

function stmt(code: number, k: number): BpfInsn {
  return { code, jt: 0, jf: 0, k: k >>> 0 };
}

function jump(code: number, k: number, jt: number, jf: number): BpfInsn {
  return { code, jt, jf, k: k >>> 0 };
}
