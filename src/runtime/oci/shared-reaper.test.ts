import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelRunsSharedReaper, SharedReaper, sharedReaperFromEnv } from './shared-reaper.js';

/**
 * The reaper with plain processes in place of an OCI runtime: a perl one-liner stands for the
 * runtime (it forks the "init", writes its pid to the pid file and exits without waiting for
 * it, as `crun run --detach` does), and the init it leaves is adopted and reaped by the
 * reaper, as a detached container's is. Not sh: sh reaps a background child that ends first.
 */
const FAKE_RUNTIME = `my $pid = fork();
if (!$pid) { exec('/bin/sh', '-c', $ARGV[0]) or exit(127); }
open(my $f, '>', $ARGV[1]) or die;
print $f "$pid\n";
close($f);`;
describe('SharedReaper', () => {
  let dir: string;
  let reaper: SharedReaper;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kiln-reaper-'));
    reaper = new SharedReaper();
  });
  afterAll(async () => {
    reaper.close();
    await rm(dir, { recursive: true, force: true });
  });

  const detached = (name: string, init: string) => {
    const pidFile = path.join(dir, `${name}.pid`);
    return { argv: ['perl', '-e', FAKE_RUNTIME, init, pidFile], pidFile };
  };

  it("reports an adopted init's exit status, and 128 + the signal that killed it", async () => {
    const ok = detached('ok', 'sleep 0.1');
    const failing = detached('failing', 'exit 3');
    const killed = detached('killed', 'kill -9 $$');
    const runs = [ok, failing, killed].map((r) =>
      reaper.run(r.argv, r.pidFile, ['ignore', 'ignore', 'ignore']),
    );
    expect(await Promise.all(runs.map((r) => r.exited))).toEqual([
      { code: 0, signal: null },
      { code: 3, signal: null },
      { code: 137, signal: null },
    ]);
  });

  it('leaves the runtime and its init the default signal dispositions, not the ones it ignores', async () => {
    // The reaper ignores SIGINT and SIGTERM (a Ctrl-C is the gateway's to handle); an init
    // that inherited that would outlive a `kill`.
    const interrupted = detached('interrupted', 'kill -INT $$; sleep 1');
    const terminated = detached('terminated', 'kill -TERM $$; sleep 1');
    const runs = [interrupted, terminated].map((r) => reaper.run(r.argv, r.pidFile, ['ignore']));
    expect(await Promise.all(runs.map((r) => r.exited))).toEqual([
      { code: 130, signal: null },
      { code: 143, signal: null },
    ]);
  });

  it('reports a runtime that fails before its init runs with the runtime’s own status', async () => {
    const run = reaper.run(['/bin/sh', '-c', 'exit 7'], path.join(dir, 'never.pid'), ['ignore']);
    expect(await run.exited).toEqual({ code: 7, signal: null });
    const missing = reaper.run(['/nonexistent/runtime'], path.join(dir, 'never2.pid'), ['ignore']);
    expect((await missing.exited).code).toBe(127);
  });

  it("places the gateway's fds on the runtime's 0, 1, 2 (the caller may close its own once held)", async () => {
    const out = path.join(dir, 'out.txt');
    const fd = openSync(out, 'w');
    const r = detached('stdio', 'echo "from the init"; echo "to stderr" >&2');
    const run = reaper.run(r.argv, r.pidFile, ['ignore', fd, fd]);
    await run.stdioHeld;
    closeSync(fd);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect((await readFile(out, 'utf8')).split('\n').sort()).toEqual(['', 'from the init', 'to stderr']);
  });

  it("gives the runtime its fds blocking, as a spawned child's stdio is (O_NONBLOCK is the open file's)", async () => {
    const out = path.join(dir, 'flags.txt');
    const fd = openSync(out, constants.O_WRONLY | constants.O_CREAT | constants.O_NONBLOCK);
    const r = detached('flags', 'cat /proc/self/fdinfo/1');
    const run = reaper.run(r.argv, r.pidFile, ['ignore', fd, 'ignore']);
    await run.stdioHeld;
    closeSync(fd);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const flags = /^flags:\s+([0-7]+)/m.exec(await readFile(out, 'utf8'))?.[1];
    expect(flags).toBeDefined();
    expect(Number.parseInt(flags!, 8) & constants.O_NONBLOCK).toBe(0);
  });

  it('gives the runtime no fd but the ones asked for (its own, and its copies, are close-on-exec)', async () => {
    const out = path.join(dir, 'fds.txt');
    const fd = openSync(out, 'w');
    // `ls` lists its own fds: 0-2, and 3 for the directory it reads.
    const r = detached('fds', 'exec ls /proc/self/fd');
    const run = reaper.run(r.argv, r.pidFile, ['ignore', fd, 'ignore']);
    await run.stdioHeld;
    closeSync(fd);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect((await readFile(out, 'utf8')).trim().split('\n')).toEqual(['0', '1', '2', '3']);
  });

  it("a closed reaper's end fails only its own runs, not the next reaper's", async () => {
    const own = new SharedReaper();
    const first = detached('closed-first', 'sleep 0.3');
    const before = own.run(first.argv, first.pidFile, ['ignore']);
    await before.stdioHeld;
    own.close();
    const second = detached('closed-second', 'sleep 0.2');
    const after = own.run(second.argv, second.pidFile, ['ignore']);
    // The first reaper quits at once on its stdin's end: its init's end is lost, and said so.
    expect(await before.exited).toEqual({ code: null, signal: null });
    expect(await after.exited).toEqual({ code: 0, signal: null });
    own.close();
  });

  it('loses no exit when hundreds end at once while the gateway is too busy to read', async () => {
    const n = 600;
    const runs = Array.from({ length: n }, (_, i) => {
      // Ends spread over the blocked second: each one's SIGCHLD can cut a write in progress.
      const r = detached(`many-${i}`, `sleep ${(0.5 + i / 600).toFixed(3)}`);
      return reaper.run(r.argv, r.pidFile, ['ignore', 'ignore', 'ignore']);
    });
    await Promise.all(runs.map((r) => r.stdioHeld));
    // The event loop blocked while every init exits: the reaper's writes fill the socket and
    // block, and the SIGCHLDs that keep coming interrupt them.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);
    // A lost exit never comes: counted at a deadline rather than left to the test's timeout.
    const deadline = sleep(15_000).then(() => ({ code: -1, signal: null }));
    const exits = await Promise.all(runs.map((r) => Promise.race([r.exited, deadline])));
    expect(exits.filter((e) => e.code === 0)).toHaveLength(n);
  }, 30_000);
});

describe('KILN_SHARED_REAPER', () => {
  it('is on unless set to 0, and refuses anything else', () => {
    expect(sharedReaperFromEnv({})).toBe(true);
    expect(sharedReaperFromEnv({ KILN_SHARED_REAPER: '1' })).toBe(true);
    expect(sharedReaperFromEnv({ KILN_SHARED_REAPER: '0' })).toBe(false);
    expect(() => sharedReaperFromEnv({ KILN_SHARED_REAPER: 'yes' })).toThrow(/KILN_SHARED_REAPER must be/);
  });
});

describe('kernelRunsSharedReaper', () => {
  it('needs pidfd_getfd: Linux 5.6 or later', () => {
    expect(kernelRunsSharedReaper('6.18.44')).toBe(true);
    expect(kernelRunsSharedReaper('5.10.0-28-amd64')).toBe(true);
    expect(kernelRunsSharedReaper('5.6.0')).toBe(true);
    expect(kernelRunsSharedReaper('5.4.0-182-generic')).toBe(false);
    expect(kernelRunsSharedReaper('4.19.0')).toBe(false);
  });
});
