import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { switchFromEnv } from '../../env-switch.js';
import type { ContainerExit } from './driver.js';

/**
 * One perl process that runs every container's `<runtime> run --detach` and reaps every
 * container's init, instead of a `crun run` parent per container waiting on its init
 * (issue 9, density: that parent held 0.34 MiB of its own memory plus its page tables, task
 * and kernel stack per container; measured on 100 idle node instances here).
 *
 * It makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER: syscall 157, option 36),
 * so the init a detached runtime leaves behind is handed to it, not to PID 1 (which on this
 * host reaps orphans only seconds later, docs/DESIGN.md §3). The gateway's fds for the
 * container's stdio (the shim's listening socket, its output pipes) are copied into it with
 * pidfd_getfd (syscall 438, Linux 5.6; the reaper is the gateway's child and runs as root),
 * because perl has no SCM_RIGHTS. perl is Essential on Debian and Ubuntu (perl-base, which
 * also has POSIX).
 *
 * Lines on its stdin: `run TOKEN PIDFILE FD… -- ARGV…`, every field hex-encoded except TOKEN
 * and the fds (the gateway's fd numbers, placed at 0, 1, 2… in the runtime; -1 is /dev/null).
 * Lines on its stdout: `exit TOKEN CODE`, CODE as `crun run` reports an init's end (its exit
 * status, 128 + the signal that killed it), or the runtime's own status when it failed before
 * the container ran (125 when the reaper itself could not start it). It exits when its stdin
 * closes (the gateway is gone); the containers left then go to PID 1, and the next gateway's
 * `recover` removes them.
 */
export const SHARED_REAPER_SCRIPT = `use strict;
use POSIX qw(:sys_wait_h dup2 _exit EINTR);
use Fcntl;
$SIG{PIPE} = 'IGNORE';
syscall(157, 36, 1, 0, 0, 0) == 0 or die "kiln reaper: prctl: $!\\n";
# The gateway's pid comes as the first argument: had it died before this line, getppid() would
# name another process, whose fds must never be handed to a container.
my $gateway = shift(@ARGV) + 0;
my $pidfd = syscall(434, $gateway, 0);
$pidfd >= 0 or die "kiln reaper: pidfd_open: $!\\n";
getppid() == $gateway or die "kiln reaper: the gateway is gone\\n";
# A terminal's Ctrl-C or a SIGTERM to the gateway's group is the gateway's to handle: it stops
# its containers, then closes this reaper's stdin.
$SIG{$_} = 'IGNORE' for qw(INT TERM HUP QUIT);
pipe(my $wakeR, my $wakeW) or die "kiln reaper: pipe: $!\\n";
fcntl($wakeW, F_SETFL, O_NONBLOCK);
$SIG{CHLD} = sub { syswrite($wakeW, 'x') };
my (%runtime, %pidfile, %forked, %init, %early);
sub code { my $s = shift; ($s & 127) ? 128 + ($s & 127) : $s >> 8 }
# A write or read that a SIGCHLD interrupts (EINTR) is tried again: perl's handlers do not
# restart system calls, and with a thousand containers ending at once the gateway may read
# the exits more slowly than they come, so a write blocks and a signal cuts it (measured:
# 693 of 1000 exits lost before this).
sub say {
  my $line = "$_[0]\\n";
  while (length($line)) {
    my $n = syswrite(STDOUT, $line);
    if (!defined $n) { next if $! == EINTR; exit(1); }
    substr($line, 0, $n) = '';
  }
}
sub started {
  my ($token, $status) = @_;
  my $file = delete $pidfile{$token};
  my $since = delete($forked{$token}) // 0;
  my $pid;
  if ($status == 0 && open(my $f, '<', $file)) { $pid = <$f>; close($f); }
  if (!defined $pid || $pid !~ /^\\s*(\\d+)/) { say("exit $token " . (code($status) || 125)); return; }
  $pid = $1 + 0;
  # Alive (or a zombie not reaped yet) and started after its runtime: it is the init. Pids are
  # reused (32768 here), so a pid alone could be another process's; and its parent may still
  # be the runtime's helper process, not this reaper yet.
  my $start = start_time($pid);
  if (defined $start && $start >= $since && !exists $init{$pid}) {
    delete $early{$pid};
    $init{$pid} = $token;
    return;
  }
  # It died before its runtime exited, and was reaped then.
  if (exists $early{$pid}) { say("exit $token " . code(delete($early{$pid})->[0])); return; }
  say("exit $token 255");
}
# A process's start (clock ticks since boot, /proc/PID/stat field 22), or undef when it is gone.
# The fields are counted from the last ")": the command name before it is the process's own
# to set, to anything.
sub start_time {
  open(my $f, '<', "/proc/$_[0]/stat") or return undef;
  my $stat = do { local $/; <$f> };
  close($f);
  my @fields = split(' ', substr($stat, rindex($stat, ')') + 2));
  return $fields[19];
}
sub reap {
  # Runtimes first: an init that died before its runtime exited is then still a zombie, not yet
  # reaped, when its runtime's pid file is read, so its pid cannot have gone to another process.
  for my $pid (keys %runtime) {
    next unless waitpid($pid, WNOHANG) > 0;
    started(delete $runtime{$pid}, $?);
  }
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    my $status = $?;
    if (defined(my $token = delete $runtime{$pid})) { started($token, $status); }
    elsif (defined(my $token = delete $init{$pid})) { say("exit $token " . code($status)); }
    else { $early{$pid} = [$status, time()]; }
  }
  # What it reaps unasked (a runtime's helper processes, an init that died before its runtime
  # exited) is kept a minute: long enough for its runtime's exit, then forgotten.
  my $now = time();
  $now - $early{$_}[1] > 60 and delete $early{$_} for keys %early;
}
sub run {
  my ($token, $file, @rest) = @_;
  my @fds;
  while (@rest && $rest[0] ne '--') { push(@fds, shift(@rest) + 0); }
  shift(@rest);
  my @argv = map { pack('H*', $_) } @rest;
  my @mine = map { $_ < 0 ? -1 : syscall(438, $pidfd, $_, 0) } @fds;
  if (grep({ $mine[$_] < 0 && $fds[$_] >= 0 } 0 .. $#fds) || !@argv) {
    POSIX::close($_) for grep { $_ >= 0 } @mine;
    say("exit $token 125");
    return;
  }
  # The gateway may close its copies now.
  say("took $token");
  $pidfile{$token} = pack('H*', $file);
  my $pid = fork();
  if (!defined $pid) {
    POSIX::close($_) for grep { $_ >= 0 } @mine;
    delete $pidfile{$token};
    say("exit $token 125");
    return;
  }
  if ($pid == 0) {
    $SIG{$_} = 'DEFAULT' for qw(CHLD PIPE INT TERM HUP QUIT);
    open(my $null, '+<', '/dev/null') or _exit(125);
    # Copied above every fd they may land on first (F_DUPFD_CLOEXEC, 1030), then
    # placed: fd i of the runtime is fds[i], and nothing else of the reaper's is inherited.
    # fcntl is syscall 72 on x86_64; perl's own fcntl takes file handles, not fd numbers.
    my @high = map { syscall(72, $_ < 0 ? fileno($null) : $_, 1030, 100) } @mine;
    $_ >= 0 or _exit(125) for @high;
    dup2($high[$_], $_) for 0 .. $#high;
    # Blocking, as a spawned child's stdio is (libuv clears O_NONBLOCK on it): the gateway made
    # these non-blocking, and the flag belongs to the open file, which the container shares. A
    # shim that accepts on a non-blocking fd 0 gets EAGAIN (python's waited 50 ms on every
    # cold start). F_GETFL 3, F_SETFL 4, O_NONBLOCK 04000.
    for my $fd (0 .. $#high) { my $fl = syscall(72, $fd, 3, 0); syscall(72, $fd, 4, $fl & ~04000) if $fl >= 0; }
    # Anything else open, whoever opened it (an fd the gateway's own launcher leaked into it and
    # so into this reaper, say), closes at exec (F_SETFD FD_CLOEXEC).
    if (opendir(my $open, '/proc/self/fd')) {
      for my $fd (grep { /^\\d+$/ && $_ > $#high } readdir($open)) { syscall(72, $fd + 0, 2, 1); }
      closedir($open);
    }
    exec { $argv[0] } @argv;
    _exit(127);
  }
  POSIX::close($_) for grep { $_ >= 0 } @mine;
  $runtime{$pid} = $token;
  $forked{$token} = start_time($pid) // 0;
}
my $buf = '';
my $rin = '';
vec($rin, fileno(STDIN), 1) = 1;
vec($rin, fileno($wakeR), 1) = 1;
while (1) {
  reap();
  # SIGCHLD comes through the wake pipe; the timeout is for the purge of %early only.
  my $n = select(my $rout = $rin, undef, undef, 5);
  next if $n <= 0;
  if (vec($rout, fileno($wakeR), 1)) { sysread($wakeR, my $drop, 4096); }
  next unless vec($rout, fileno(STDIN), 1);
  my $got = sysread(STDIN, $buf, 65536, length($buf));
  next if !defined($got) && $! == EINTR;
  last if !$got;
  while ($buf =~ s/^([^\\n]*)\\n//) {
    my ($verb, @args) = split(/ /, $1);
    run(@args) if $verb eq 'run';
  }
}
`;

/** `KILN_SHARED_REAPER`: `1` (the default) runs containers under one shared reaper; `0`, a runtime process each. */
export function sharedReaperFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return switchFromEnv(env, 'KILN_SHARED_REAPER', true, {
    on: 'one reaper for every container',
    off: 'a runtime process each',
  });
}

/**
 * Whether this kernel has what the reaper needs: pidfd_getfd (Linux 5.6; pidfd_open is 5.3).
 * Older kernels (Ubuntu 20.04's 5.4) run a foreground runtime process per container instead.
 */
export function kernelRunsSharedReaper(release = os.release()): boolean {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  return major > 5 || (major === 5 && minor >= 6);
}

/** Placed on the runtime's fds 0, 1, 2…: a gateway fd, or 'ignore' for /dev/null. */
export type ReaperStdio = (number | 'ignore')[];

export interface ReaperRun {
  /** The reaper holds its own copies of the stdio fds: the gateway may close its copies. */
  stdioHeld: Promise<void>;
  /** The container's end (or its runtime's failure), as a foreground `crun run` child's exit. */
  exited: Promise<ContainerExit>;
}

interface Refable {
  ref?: () => void;
  unref?: () => void;
}

interface Waiting {
  held: () => void;
  exited: (exit: ContainerExit) => void;
}

/** One reaper process and the runs it was given: a reaper that ends fails only its own. */
interface ReaperProcess {
  child: ChildProcess;
  waiting: Map<string, Waiting>;
  /** The start of a line not yet whole. */
  pending: string;
}

/** The gateway's side of the shared reaper: one per OCI runtime driver, started at its first `run`. */
export class SharedReaper {
  private current: ReaperProcess | undefined;
  private next = 0;

  /** Run `argv` (a runtime's `run --detach --pid-file PIDFILE …`) with `stdio` on its fds. */
  run(argv: string[], pidFile: string, stdio: ReaperStdio): ReaperRun {
    const reaper = this.process();
    const token = String(++this.next);
    let waiting!: Waiting;
    const stdioHeld = new Promise<void>((held) => {
      waiting = { held, exited: () => undefined };
    });
    const exited = new Promise<ContainerExit>((resolve) => {
      waiting.exited = resolve;
    });
    reaper.waiting.set(token, waiting);
    holdOpen(reaper.child, true);
    const hex = (s: string) => Buffer.from(s).toString('hex');
    const fds = stdio.map((fd) => (fd === 'ignore' ? -1 : fd));
    reaper.child.stdin?.write(
      `run ${token} ${hex(pidFile)} ${fds.join(' ')} -- ${argv.map(hex).join(' ')}\n`,
    );
    return { stdioHeld, exited };
  }

  /** Its stdin closes: it exits (containers still running would go to PID 1). */
  close(): void {
    this.current?.child.stdin?.end();
    this.current = undefined;
  }

  private process(): ReaperProcess {
    if (this.current) return this.current;
    // Its own session: a terminal's Ctrl-C reaches the gateway, which stops the containers.
    const child = spawn('perl', ['-e', SHARED_REAPER_SCRIPT, String(process.pid)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
    });
    const reaper: ReaperProcess = { child, waiting: new Map(), pending: '' };
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => onLines(reaper, text));
    child.stdin?.on('error', () => undefined);
    const gone = () => {
      if (this.current === reaper) this.current = undefined;
      // Its containers' ends are lost to the gateway: each is reported gone (its cleanup
      // deletes the container, killing what is left of it), never left waiting forever.
      const waiting = [...reaper.waiting.values()];
      reaper.waiting.clear();
      for (const w of waiting) {
        w.held();
        w.exited({ code: null, signal: null });
      }
    };
    // 'close' once its stdout is read to the end (the exits it wrote before it died count);
    // 'error' without 'close' when perl cannot be spawned at all.
    child.once('close', gone);
    child.once('error', gone);
    // The kernel's OOM killer picks it last: its end would end every container it runs.
    if (child.pid) writeFile(`/proc/${child.pid}/oom_score_adj`, '-1000').catch(() => undefined);
    this.current = reaper;
    return reaper;
  }
}

/**
 * A reaper keeps the gateway's process alive while a container of its runs (someone awaits
 * its end, as a foreground runtime child would), and never when none does.
 */
function holdOpen(child: ChildProcess, hold: boolean): void {
  for (const handle of [child, child.stdin, child.stdout] as unknown as Refable[]) {
    if (hold) handle?.ref?.();
    else handle?.unref?.();
  }
}

/** `took TOKEN` and `exit TOKEN CODE` lines from `reaper`, settling its runs. */
function onLines(reaper: ReaperProcess, text: string): void {
  reaper.pending += text;
  for (let nl = reaper.pending.indexOf('\n'); nl >= 0; nl = reaper.pending.indexOf('\n')) {
    const [verb, token = '', code] = reaper.pending.slice(0, nl).split(' ');
    reaper.pending = reaper.pending.slice(nl + 1);
    const w = reaper.waiting.get(token);
    if (!w) continue;
    w.held();
    if (verb !== 'exit') continue;
    reaper.waiting.delete(token);
    if (reaper.waiting.size === 0) holdOpen(reaper.child, false);
    w.exited({ code: Number(code), signal: null });
  }
}
