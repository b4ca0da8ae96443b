// Scenario 1, floor: a bare process of each runtime (the image's own binary, in a chroot
// of the image, with an empty environment like `env -i`), spawn → first HTTP response on
// a unix socket. What Kiln's cold start is measured against.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { findOnPath } from '../../dist/find-on-path.js';
import { FLOOR_COMMANDS } from '../lib/base-rootfs.mjs';
import { firstResponse } from '../lib/unix-http.mjs';

// Resolved once: the child gets an empty environment, so no PATH to find it with.
const CHROOT = (await findOnPath('chroot')) ?? '/usr/sbin/chroot';

export async function floorOnce(root, sockDir, language) {
  const socket = path.join(sockDir, 'hello.sock');
  await rm(socket, { force: true });
  const started = performance.now();
  const child = spawn(CHROOT, [root, ...FLOOR_COMMANDS[language]], {
    env: { HELLO_SOCKET: '/run/kiln/hello.sock' },
    stdio: 'ignore',
  });
  const gone = new Promise((resolve) => child.once('exit', resolve));
  try {
    const res = await firstResponse(socket, 20_000, gone);
    const ms = performance.now() - started;
    if (res.body !== 'hello\n') throw new Error(`unexpected answer ${JSON.stringify(res.body)}`);
    const rssKb = await rss(child.pid);
    return { ms, rssKb };
  } finally {
    child.kill('SIGKILL');
    await gone;
  }
}

async function rss(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const line = status.split('\n').find((l) => l.startsWith('VmRSS:'));
  return line ? Number(line.split(/\s+/)[1]) : null;
}

export async function runFloor({ roots, languages, runs, warmup }) {
  const results = {};
  for (const language of languages) {
    const { root, sockDir } = roots[language];
    for (let i = 0; i < warmup; i++) await floorOnce(root, sockDir, language);
    const samples = [];
    const rssKb = [];
    for (let i = 0; i < runs; i++) {
      const r = await floorOnce(root, sockDir, language);
      samples.push(r.ms);
      if (r.rssKb) rssKb.push(r.rssKb);
    }
    results[language] = { samples, rssKb };
  }
  return results;
}
