/**
 * The syscall policy of every function container, as data: deny by default, allow a list.
 * Docker's default profile (moby `profiles/seccomp/default.json`, for a container with no
 * capabilities) is the model; where Kiln differs it is stricter, and each difference says
 * why. Two backends turn it into a filter: `ociSeccomp` (the runtime spec's
 * `linux.seccomp`, compiled by libseccomp inside the OCI runtime at every start) and
 * `compileSeccompBpf` (classic BPF, compiled once here and handed to crun as
 * `run.oci.seccomp_bpf_data`).
 */

/** What a denied syscall returns (errno), unless a rule says otherwise. */
export const EPERM = 1;
export const ENOSYS = 38;

/** One condition on a syscall argument (all conditions of a rule must hold). */
export type ArgCheck =
  | { index: number; op: 'eq'; value: number }
  /** `(arg & mask) === value` */
  | { index: number; op: 'masked_eq'; mask: number; value: number };

export interface SeccompPolicy {
  /** Allowed whatever their arguments. */
  allow: readonly string[];
  /** Allowed when any one rule's checks all hold (checks on one rule name distinct arguments). */
  allowIf: readonly { name: string; args: readonly ArgCheck[] }[];
  /** Refused with this errno instead of the default one. */
  refuse: readonly { name: string; errno: number }[];
  /** Every other syscall fails with this errno. */
  defaultErrno: number;
}

// clone(2) flags that make a namespace (linux/sched.h): no namespace may be made inside a
// function container (issue 8: a new user + network namespace let raw sockets open).
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
export const CLONE_NAMESPACE_FLAGS =
  CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// Address families and socket types (linux/socket.h, linux/net.h).
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
/** socket(2)'s type carries SOCK_NONBLOCK and SOCK_CLOEXEC above the type itself. */
export const SOCK_TYPE_MASK = 0xf;

/**
 * Docker's unconditional allow list for x86_64, minus:
 * - `io_uring_setup`, `io_uring_enter`, `io_uring_register`: io_uring has been the kernel's
 *   largest source of privilege escalations since 2021 (Google turned it off in ChromeOS,
 *   Android apps and its production servers for that reason); no language runtime here needs it.
 * - `name_to_handle_at`: the first half of the "shocker" escape; Kiln denied it before.
 * - the 32-bit-only names (`socketcall`, `chown32`, `_llseek`, ...): only the native ABI is
 *   allowed (see `arch` in the backends), and `socketcall` would bypass the socket rules below.
 * - `modify_ldt`: 16-bit segments (Wine, DOSEMU); a past source of kernel bugs, no runtime here uses it.
 */
// biome-ignore format: a list of names reads better packed
const ALLOWED = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'arch_prctl', 'bind', 'brk', 'capget', 'capset',
  'chdir', 'chmod', 'chown', 'clock_adjtime', 'clock_getres', 'clock_gettime', 'clock_nanosleep', 'close',
  'close_range', 'connect', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3', 'epoll_create',
  'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait',
  'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit', 'exit_group', 'faccessat',
  'faccessat2', 'fadvise64', 'fallocate', 'fanotify_mark', 'fchdir', 'fchmod', 'fchmodat', 'fchown',
  'fchownat', 'fcntl', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fork', 'fremovexattr', 'fsetxattr',
  'fstat', 'fstatfs', 'fsync', 'ftruncate', 'futex', 'futex_waitv', 'futimesat', 'getcpu', 'getcwd',
  'getdents', 'getdents64', 'getegid', 'geteuid', 'getgid', 'getgroups', 'getitimer', 'getpeername',
  'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom', 'getresgid', 'getresuid',
  'getrlimit', 'get_robust_list', 'getrusage', 'getsid', 'getsockname', 'getsockopt', 'get_thread_area',
  'gettid', 'gettimeofday', 'getuid', 'getxattr', 'inotify_add_watch', 'inotify_init', 'inotify_init1',
  'inotify_rm_watch', 'io_cancel', 'ioctl', 'io_destroy', 'io_getevents', 'io_pgetevents', 'ioprio_get',
  'ioprio_set', 'io_setup', 'io_submit', 'kill', 'landlock_add_rule', 'landlock_create_ruleset',
  'landlock_restrict_self', 'lchown', 'lgetxattr', 'link', 'linkat', 'listen', 'listxattr', 'llistxattr',
  'lremovexattr', 'lseek', 'lsetxattr', 'lstat', 'madvise', 'membarrier', 'memfd_create', 'memfd_secret',
  'mincore', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mprotect',
  'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedsend', 'mq_unlink', 'mremap',
  'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap', 'nanosleep',
  'newfstatat', 'open', 'openat', 'openat2', 'pause', 'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2',
  'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'poll', 'ppoll', 'prctl', 'pread64', 'preadv', 'preadv2',
  'prlimit64', 'process_mrelease', 'pselect6', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead',
  'readlink', 'readlinkat', 'readv', 'recvfrom', 'recvmmsg', 'recvmsg', 'remap_file_pages', 'removexattr',
  'rename', 'renameat', 'renameat2', 'restart_syscall', 'rmdir', 'rseq', 'rt_sigaction', 'rt_sigpending',
  'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait',
  'rt_tgsigqueueinfo', 'sched_getaffinity', 'sched_getattr', 'sched_getparam', 'sched_get_priority_max',
  'sched_get_priority_min', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_setaffinity',
  'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp', 'select', 'semctl',
  'semget', 'semop', 'semtimedop', 'sendfile', 'sendmmsg', 'sendmsg', 'sendto', 'setfsgid', 'setfsuid',
  'setgid', 'setgroups', 'setitimer', 'setpgid', 'setpriority', 'setregid', 'setresgid', 'setresuid',
  'setreuid', 'setrlimit', 'set_robust_list', 'setsid', 'setsockopt', 'set_thread_area', 'set_tid_address',
  'setuid', 'setxattr', 'shmat', 'shmctl', 'shmdt', 'shmget', 'shutdown', 'sigaltstack', 'signalfd',
  'signalfd4', 'socketpair', 'splice', 'stat', 'statfs', 'statx', 'symlink', 'symlinkat', 'sync',
  'sync_file_range', 'syncfs', 'sysinfo', 'tee', 'tgkill', 'time', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_settime', 'timerfd_create', 'timerfd_gettime',
  'timerfd_settime', 'times', 'tkill', 'truncate', 'umask', 'uname', 'unlink', 'unlinkat', 'utime',
  'utimensat', 'utimes', 'vfork', 'vmsplice', 'wait4', 'waitid', 'write', 'writev',
] as const;

/** The policy every function container runs under. */
export const FUNCTION_SECCOMP: SeccompPolicy = {
  allow: ALLOWED,
  allowIf: [
    // Threads and processes, never namespaces (Docker: the same mask on clone's flags).
    { name: 'clone', args: [{ index: 0, op: 'masked_eq', mask: CLONE_NAMESPACE_FLAGS, value: 0 }] },
    // Sockets: local, netlink (getifaddrs(3) reads interfaces over it) and IPv4/IPv6 streams
    // and datagrams. No raw or packet sockets, no vsock (a path to the hypervisor), and no
    // other family (AF_ALG, AF_KEY, ...: kernel attack surface no function needs). Docker
    // only refuses AF_VSOCK; raw sockets there are held back by CAP_NET_RAW alone.
    { name: 'socket', args: [{ index: 0, op: 'eq', value: AF_UNIX }] },
    { name: 'socket', args: [{ index: 0, op: 'eq', value: AF_NETLINK }] },
    ...[AF_INET, AF_INET6].flatMap((family) =>
      [SOCK_STREAM, SOCK_DGRAM].map((type) => ({
        name: 'socket',
        args: [
          { index: 0, op: 'eq', value: family } as const,
          { index: 1, op: 'masked_eq', mask: SOCK_TYPE_MASK, value: type } as const,
        ],
      })),
    ),
    // personality(2): only the values Docker allows (Linux, 32-bit uname, UNAME26, query).
    ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((value) => ({
      name: 'personality',
      args: [{ index: 0, op: 'eq', value } as const],
    })),
  ],
  // clone3 passes its flags in memory, where seccomp cannot look: ENOSYS makes glibc fall
  // back to clone(2), whose flags it can check (Docker does the same).
  refuse: [{ name: 'clone3', errno: ENOSYS }],
  defaultErrno: EPERM,
};
