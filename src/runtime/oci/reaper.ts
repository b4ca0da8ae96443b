/**
 * A perl one-liner that makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER: prctl
 * is syscall 157 on x86_64, option 36), runs `RUNTIME create …` (the rest of its argv), says
 * `created` on the fd its first argument names, then reaps every process handed to it and
 * exits with the last one's status the way `crun run` reports it (128 + the signal for a
 * killed init): the container's init is orphaned when the runtime's `create` exits, and
 * without a subreaper it goes to PID 1, which on this host reaps orphans only seconds later
 * and whose exit status Kiln never sees (docs/DESIGN.md §3). perl is in every Debian and
 * Ubuntu base install (perl-base is Essential); Node has no prctl. The status fd is made
 * close-on-exec so that neither the runtime nor the container holds it.
 */
export const REAPER_SCRIPT = `use Fcntl;
my $fd = shift @ARGV;
open(my $status, '>&=', $fd) or die "status fd: $!";
fcntl($status, F_SETFD, FD_CLOEXEC);
syscall(157, 36, 1, 0, 0, 0) == 0 or die "prctl: $!";
system(@ARGV) == 0 or exit(125);
syswrite($status, "created\\n");
close($status);
my $last = 0;
while (waitpid(-1, 0) > 0) { $last = $?; }
exit(($last & 127) ? 128 + ($last & 127) : $last >> 8);
`;

/** The reaper's exit code when the runtime's `create` itself failed (its message is on stderr). */
export const REAPER_CREATE_FAILED = 125;
