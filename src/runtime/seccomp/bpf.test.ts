import { describe, expect, it } from 'vitest';
import {
  BPF_ALU_AND_K,
  BPF_JMP_JA,
  BPF_JMP_JEQ_K,
  BPF_JMP_JGE_K,
  BPF_LD_W_ABS,
  BPF_RET_K,
  compileSeccompBpf,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  X86_64,
} from './bpf.js';
import { FUNCTION_SECCOMP, type SeccompPolicy } from './policy.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';

/**
 * The compiled program is run here by a classic-BPF interpreter of the instructions the
 * compiler may emit (any other opcode, a jump out of the program or falling off its end
 * fails the test), and every answer is compared with `expected`: the policy's meaning
 * written the plain way, over 64-bit arguments. The kernel itself runs the same bytes in
 * test/containment/seccomp.test.ts.
 */

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const EPERM = 1;
const ENOSYS = 38;

interface Call {
  nr: number;
  arch?: number;
  args?: bigint[];
}

function run(program: Buffer, call: Call): number {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(call.nr >>> 0, 0);
  data.writeUInt32LE((call.arch ?? AUDIT_ARCH_X86_64) >>> 0, 4);
  data.writeBigUInt64LE(0x7f00_1234_5678n, 8);
  for (const [i, arg] of (call.args ?? []).entries())
    data.writeBigUInt64LE(BigInt.asUintN(64, arg), 16 + 8 * i);
  const count = program.length / 8;
  let a = 0;
  for (let pc = 0, steps = 0; steps < 10_000; steps++) {
    if (pc >= count) throw new Error(`fell off the program at ${pc}`);
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case BPF_LD_W_ABS:
        if (k % 4 !== 0 || k > 60) throw new Error(`load at ${k}`);
        a = data.readUInt32LE(k);
        break;
      case BPF_ALU_AND_K:
        a = (a & k) >>> 0;
        break;
      case BPF_JMP_JEQ_K:
        pc += a === k ? jt : jf;
        break;
      case BPF_JMP_JGE_K:
        pc += a >= k ? jt : jf;
        break;
      case BPF_JMP_JA:
        pc += k;
        break;
      case BPF_RET_K:
        return k;
      default:
        throw new Error(`opcode ${code.toString(16)} at ${pc - 1}`);
    }
  }
  throw new Error('no return');
}

const NAME_OF = new Map(Object.entries(X86_64_SYSCALLS).map(([name, nr]) => [nr, name]));
const LAST = Math.max(...NAME_OF.keys());

/** What the policy means for one call, without any of the compiler's tricks. */
function expected(policy: SeccompPolicy, call: Call): number {
  if ((call.arch ?? AUDIT_ARCH_X86_64) !== AUDIT_ARCH_X86_64) return SECCOMP_RET_KILL_PROCESS;
  if (call.nr >= 0x40000000) return SECCOMP_RET_KILL_PROCESS;
  if (call.nr > LAST) return SECCOMP_RET_ERRNO | ENOSYS;
  const name = NAME_OF.get(call.nr);
  const deny = SECCOMP_RET_ERRNO | policy.defaultErrno;
  if (name === undefined) return deny;
  if (policy.allow.includes(name)) return SECCOMP_RET_ALLOW;
  const refusal = policy.refuse.find((r) => r.name === name);
  if (refusal) return SECCOMP_RET_ERRNO | refusal.errno;
  const args = call.args ?? [];
  const arg = (i: number) => BigInt.asUintN(64, args[i] ?? 0n);
  const holds = policy.allowIf
    .filter((r) => r.name === name)
    .some((rule) =>
      rule.args.every((c) =>
        c.op === 'eq'
          ? arg(c.index) === BigInt(c.value)
          : (arg(c.index) & BigInt(c.mask)) === BigInt(c.value),
      ),
    );
  return holds ? SECCOMP_RET_ALLOW : deny;
}

/** A seeded PRNG (mulberry32), so a failure repeats. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const u32 = () => BigInt(Math.floor(next() * 2 ** 32));
  return { int: (n: number) => Math.floor(next() * n), u64: () => (u32() << 32n) | u32(), u32 };
}

const program = compileSeccompBpf(FUNCTION_SECCOMP, X86_64);
const nr = (name: string) => X86_64_SYSCALLS[name]!;
const verdict = (call: Call) => run(program, call);

const CLONE_NEWUSER = 0x10000000n;
const CLONE_NEWNET = 0x40000000n;
const CLONE_NEWNS = 0x20000n;
/** What glibc's pthread_create passes (CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID). */
const THREAD_FLAGS = 0x3d0f00n;
const SIGCHLD = 17n;

describe('compileSeccompBpf', () => {
  it('is a small program', () => {
    expect(program.length % 8).toBe(0);
    expect(program.length / 8).toBeLessThan(400);
  });

  it('answers every syscall number as the policy says', () => {
    const numbers = [
      ...Array(1024).keys(),
      0x3fffffff,
      0x40000000,
      0x40000001,
      0x4000000f,
      0x7fffffff,
      0xffffffff,
    ];
    for (const n of numbers)
      expect(verdict({ nr: n }), `nr ${n}`).toBe(expected(FUNCTION_SECCOMP, { nr: n }));
  });

  it('kills a call from another ABI: 32-bit x86, x32, another arch', () => {
    for (const n of [0, 1, 59, 102, nr('socket')]) {
      expect(verdict({ nr: n, arch: AUDIT_ARCH_I386 })).toBe(SECCOMP_RET_KILL_PROCESS);
      expect(verdict({ nr: n, arch: AUDIT_ARCH_AARCH64 })).toBe(SECCOMP_RET_KILL_PROCESS);
      expect(verdict({ nr: 0x40000000 | n })).toBe(SECCOMP_RET_KILL_PROCESS);
    }
  });

  it('allows what node, python and java need and denies what issue 8 found open', () => {
    for (const name of [
      'read',
      'write',
      'openat',
      'mmap',
      'futex',
      'epoll_wait',
      'execve',
      'accept4',
      'rseq',
    ])
      expect(verdict({ nr: nr(name) }), name).toBe(SECCOMP_RET_ALLOW);
    for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'unshare', 'setns', 'mount'])
      expect(verdict({ nr: nr(name) }), name).toBe(SECCOMP_RET_ERRNO | EPERM);
    for (const name of ['ptrace', 'bpf', 'keyctl', 'userfaultfd', 'perf_event_open', 'kexec_load'])
      expect(verdict({ nr: nr(name) }), name).toBe(SECCOMP_RET_ERRNO | EPERM);
    expect(verdict({ nr: nr('clone3') })).toBe(SECCOMP_RET_ERRNO | ENOSYS);
    // Newer than the table (cachestat, Linux 6.5): ENOSYS, as an older kernel answers.
    expect(verdict({ nr: 451 })).toBe(SECCOMP_RET_ERRNO | ENOSYS);
  });

  it('allows clone for threads and processes, never with a namespace flag', () => {
    const clone = (flags: bigint) => verdict({ nr: nr('clone'), args: [flags, 0n, 0n, 0n, 0n] });
    expect(clone(THREAD_FLAGS)).toBe(SECCOMP_RET_ALLOW);
    expect(clone(SIGCHLD)).toBe(SECCOMP_RET_ALLOW);
    expect(clone(SIGCHLD | CLONE_NEWUSER | CLONE_NEWNET)).toBe(SECCOMP_RET_ERRNO | EPERM);
    expect(clone(SIGCHLD | CLONE_NEWNS)).toBe(SECCOMP_RET_ERRNO | EPERM);
    const flags = [0x20000n, 0x2000000n, 0x4000000n, 0x8000000n, 0x10000000n, 0x20000000n, 0x40000000n];
    for (const flag of flags) {
      expect(clone(THREAD_FLAGS | flag)).toBe(SECCOMP_RET_ERRNO | EPERM);
      // The kernel reads clone's flags as 64 bits, but no namespace flag lives in the high word.
      expect(clone((0xffffffffn << 32n) | flag)).toBe(SECCOMP_RET_ERRNO | EPERM);
    }
    expect(clone((0xffffffffn << 32n) | THREAD_FLAGS)).toBe(
      expected(FUNCTION_SECCOMP, {
        nr: nr('clone'),
        args: [(0xffffffffn << 32n) | THREAD_FLAGS],
      }),
    );
  });

  it('allows unix, netlink and IP stream/datagram sockets; no packet, vsock or raw socket', () => {
    const socket = (family: bigint, type: bigint) => verdict({ nr: nr('socket'), args: [family, type, 0n] });
    const [AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK, AF_ALG] = [
      1n,
      2n,
      10n,
      16n,
      17n,
      40n,
      38n,
    ];
    const [STREAM, DGRAM, RAW, PACKET, NONBLOCK, CLOEXEC] = [1n, 2n, 3n, 10n, 0x800n, 0x80000n];
    expect(socket(AF_UNIX, STREAM | CLOEXEC)).toBe(SECCOMP_RET_ALLOW);
    expect(socket(AF_INET, STREAM | NONBLOCK | CLOEXEC)).toBe(SECCOMP_RET_ALLOW);
    expect(socket(AF_INET6, DGRAM)).toBe(SECCOMP_RET_ALLOW);
    expect(socket(AF_NETLINK, RAW | CLOEXEC)).toBe(SECCOMP_RET_ALLOW);
    for (const denied of [
      socket(AF_INET, RAW),
      socket(AF_INET6, RAW | CLOEXEC),
      socket(AF_INET, PACKET),
      socket(AF_PACKET, RAW),
      socket(AF_PACKET, DGRAM),
      socket(AF_VSOCK, STREAM),
      socket(AF_ALG, 5n),
      socket((1n << 32n) | AF_INET, STREAM),
    ])
      expect(denied).toBe(SECCOMP_RET_ERRNO | EPERM);
    for (let family = 0n; family < 46n; family++)
      for (let type = 0n; type < 16n; type++)
        for (const flags of [0n, NONBLOCK, CLOEXEC, NONBLOCK | CLOEXEC, 1n << 40n]) {
          const call = { nr: nr('socket'), args: [family, type | flags, 0n] };
          expect(verdict(call), `socket(${family}, ${type | flags})`).toBe(expected(FUNCTION_SECCOMP, call));
        }
  });

  it('allows only the personality values Docker allows', () => {
    for (const value of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn])
      expect(verdict({ nr: nr('personality'), args: [value] })).toBe(SECCOMP_RET_ALLOW);
    for (const value of [0x40000n /* ADDR_NO_RANDOMIZE */, 0x400000n /* READ_IMPLIES_EXEC */, 1n << 32n])
      expect(verdict({ nr: nr('personality'), args: [value] })).toBe(SECCOMP_RET_ERRNO | EPERM);
  });

  it('agrees with the policy on 20 000 random calls', () => {
    const rnd = random(8);
    const interesting = [nr('clone'), nr('socket'), nr('personality'), nr('clone3'), nr('unshare')];
    for (let i = 0; i < 20_000; i++) {
      const n = i % 2 ? interesting[rnd.int(interesting.length)]! : rnd.int(LAST + 40);
      const args = Array.from({ length: 6 }, () => (rnd.int(4) === 0 ? rnd.u64() : BigInt(rnd.int(64))));
      const call = { nr: n, args };
      expect(verdict(call), JSON.stringify({ n, args: args.map(String) })).toBe(
        expected(FUNCTION_SECCOMP, call),
      );
    }
  });

  it('takes a far jump through ja when a subtree is longer than 255 instructions', () => {
    // Every even syscall allowed, every odd one conditional: a tree too big for 8-bit jumps.
    const names = Object.entries(X86_64_SYSCALLS).sort((a, b) => a[1] - b[1]);
    const policy: SeccompPolicy = {
      allow: names.filter(([, n]) => n % 2 === 0).map(([name]) => name),
      allowIf: names
        .filter(([, n]) => n % 2 === 1)
        .map(([name]) => ({ name, args: [{ index: 0, op: 'eq', value: 7 } as const] })),
      refuse: [],
      defaultErrno: EPERM,
    };
    const big = compileSeccompBpf(policy, X86_64);
    const codes = Array.from({ length: big.length / 8 }, (_, i) => big.readUInt16LE(i * 8));
    expect(codes).toContain(BPF_JMP_JA);
    for (let n = 0; n <= LAST + 2; n++)
      for (const arg of [0n, 7n, 8n, 7n | (1n << 32n)]) {
        const call = { nr: n, args: [arg] };
        expect(run(big, call), `nr ${n} arg ${arg}`).toBe(expected(policy, call));
      }
  });

  it('refuses a policy it cannot compile exactly', () => {
    const base: SeccompPolicy = { allow: [], allowIf: [], refuse: [], defaultErrno: EPERM };
    expect(() => compileSeccompBpf({ ...base, allow: ['no_such_call'] })).toThrow(/no syscall/);
    expect(() =>
      compileSeccompBpf({ ...base, allow: ['read'], refuse: [{ name: 'read', errno: 1 }] }),
    ).toThrow(/more than one/);
    const wide = { index: 0, op: 'eq', value: 2 ** 33 } as const;
    expect(() => compileSeccompBpf({ ...base, allowIf: [{ name: 'socket', args: [wide] }] })).toThrow(
      /cannot express/,
    );
    const twice = [
      { index: 0, op: 'eq', value: 1 },
      { index: 0, op: 'eq', value: 2 },
    ] as const;
    expect(() => compileSeccompBpf({ ...base, allowIf: [{ name: 'socket', args: twice }] })).toThrow(/twice/);
  });
});

describe('FUNCTION_SECCOMP', () => {
  it('never allows a syscall that escapes or widens the sandbox', () => {
    const never = [
      'mount',
      'umount2',
      'unshare',
      'setns',
      'pivot_root',
      'chroot',
      'ptrace',
      'process_vm_readv',
      'process_vm_writev',
      'kcmp',
      'pidfd_getfd',
      'bpf',
      'perf_event_open',
      'userfaultfd',
      'keyctl',
      'add_key',
      'request_key',
      'io_uring_setup',
      'io_uring_enter',
      'io_uring_register',
      'kexec_load',
      'kexec_file_load',
      'init_module',
      'finit_module',
      'delete_module',
      'reboot',
      'swapon',
      'swapoff',
      'acct',
      'quotactl',
      'syslog',
      'settimeofday',
      'clock_settime',
      'sethostname',
      'setdomainname',
      'open_by_handle_at',
      'name_to_handle_at',
      'fsopen',
      'fsmount',
      'fsconfig',
      'move_mount',
      'open_tree',
      'lookup_dcookie',
      'iopl',
      'ioperm',
      'modify_ldt',
      'personality',
      'socket',
      'clone',
      'clone3',
    ];
    for (const name of never) expect(FUNCTION_SECCOMP.allow, name).not.toContain(name);
    expect(new Set(FUNCTION_SECCOMP.allow).size).toBe(FUNCTION_SECCOMP.allow.length);
  });
});
