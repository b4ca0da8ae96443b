import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';

import path from 'node:path';
import { promisify } from 'node:util';
import { findOnPath } from '../src/find-on-path.js';

const execFileP = promisify(execFile);

export interface TestPodman {
  /** Run podman with this test's own storage; returns stdout. */
  run(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * Podman with a root, run root and events file of its own (nothing shared with the host's
 * podman), cgroupfs (no systemd here). Undefined when podman is not installed.
 */
export async function startPodman(): Promise<TestPodman | undefined> {
  if (!(await findOnPath('podman'))) return undefined;
  const dir = await mkdtemp(path.join('/var/tmp', 'kiln-podman-'));
  const base = [
    '--root',
    path.join(dir, 'root'),
    '--runroot',
    path.join(dir, 'run'),
    '--cgroup-manager=cgroupfs',
    '--events-backend=file',
    '--storage-driver=overlay',
  ];
  const run = async (...args: string[]) =>
    (
      await execFileP('podman', [...base, ...args], {
        maxBuffer: 64 << 20,
        env: { ...process.env, TMPDIR: dir },
      })
    ).stdout;
  return {
    run,
    close: async () => {
      const ids = (await run('ps', '-aq').catch(() => '')).split('\n').filter(Boolean);
      if (ids.length) await run('rm', '-f', ...ids).catch(() => undefined);
      await run('rmi', '-a', '-f').catch(() => undefined);
      // Podman may leave mounts under its root (the storage's own overlay mount): deepest first.
      const mounts = (await readFile('/proc/self/mounts', 'utf8'))
        .split('\n')
        .map((l) => l.split(' ')[1] ?? '')
        .filter((m) => m.startsWith(dir))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) await execFileP('umount', ['-l', m]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
