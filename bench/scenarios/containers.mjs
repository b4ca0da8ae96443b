// Scenario 5: `docker run --rm` and `podman run --rm` of an image holding the same root and
// hello as Kiln's, spawn → first HTTP response on a bind-mounted unix socket. The bench
// runs its own dockerd (own data root, stopped at the end) and its own podman storage.
import { execFile, spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { findOnPath } from '../../dist/find-on-path.js';
import { FLOOR_COMMANDS } from '../lib/base-rootfs.mjs';
import { firstResponse } from '../lib/unix-http.mjs';

const execFileP = promisify(execFile);

async function dockerEngine(workDir) {
  if (!(await findOnPath('dockerd')) || !(await findOnPath('docker')))
    return { skip: 'docker is not installed (apt-get install docker.io)' };
  const dir = path.join(workDir, 'docker');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const host = `unix://${dir}/docker.sock`;
  const daemon = spawn(
    'dockerd',
    [
      '--data-root',
      `${dir}/data`,
      '--exec-root',
      `${dir}/exec`,
      '--pidfile',
      `${dir}/pid`,
      '-H',
      host,
      '--iptables=false',
      '--bridge=none',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 150; i++) {
    if (
      await execFileP('docker', ['-H', host, 'info']).then(
        () => true,
        () => false,
      )
    ) {
      return {
        name: 'docker',
        argv: (...args) => ['docker', '-H', host, ...args],
        runArgs: [],
        rmArgs: [],
        version: (
          await execFileP('docker', ['-H', host, 'version', '--format', '{{.Server.Version}}'])
        ).stdout.trim(),
        stop: async () => {
          daemon.kill('SIGTERM');
          await new Promise((r) => daemon.once('exit', r));
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await sleep(100);
  }
  daemon.kill('SIGKILL');
  return { skip: 'dockerd did not start within 15 s' };
}

async function podmanEngine(workDir) {
  if (!(await findOnPath('podman'))) return { skip: 'podman is not installed (apt-get install podman)' };
  const dir = path.join(workDir, 'podman');
  await rm(dir, { recursive: true, force: true });
  const base = [
    'podman',
    '--root',
    `${dir}/root`,
    '--runroot',
    `${dir}/run`,
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
    '--storage-driver',
    'overlay',
  ];
  return {
    name: 'podman',
    argv: (...args) => [...base, ...args],
    // crun fails on setrlimit here without these (BENCH-NOTES).
    runArgs: ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'],
    rmArgs: ['--time', '0'],
    version: (await execFileP('podman', ['--version'])).stdout.trim(),
    stop: async () => {
      await execFileP(base[0], [...base.slice(1), 'system', 'reset', '--force']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function run([cmd, ...args]) {
  return execFileP(cmd, args, { maxBuffer: 16 << 20 });
}

async function importRoot(engine, root, tag) {
  const [cmd, ...args] = engine.argv('import', '-', tag);
  await new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', root, '--one-file-system', '-c', '.'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const imp = spawn(cmd, args, { stdio: [tar.stdout, 'ignore', 'pipe'] });
    let err = '';
    imp.stderr.on('data', (d) => {
      err += d;
    });
    imp.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${engine.name} import failed: ${err}`)),
    );
  });
}

async function runOnce(engine, tag, language, sockDir, n) {
  const socket = path.join(sockDir, 'hello.sock');
  await rm(socket, { force: true });
  const name = `kiln-bench-${n}`;
  const [cmd, ...args] = engine.argv(
    'run',
    '--rm',
    '--name',
    name,
    '--network',
    'none',
    ...engine.runArgs,
    '-e',
    'HELLO_SOCKET=/run/kiln/hello.sock',
    '-v',
    `${sockDir}:/run/kiln`,
    tag,
    ...FLOOR_COMMANDS[language],
  );
  const started = performance.now();
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const gone = new Promise((resolve) => child.once('exit', resolve));
  try {
    const res = await firstResponse(socket, 30_000, gone);
    if (res.body !== 'hello\n') throw new Error(`unexpected answer ${JSON.stringify(res.body)}`);
    return performance.now() - started;
  } finally {
    // The hello is PID 1 of its container and ignores SIGTERM: kill at once, no stop timeout.
    await run(engine.argv('rm', '-f', ...engine.rmArgs, name)).catch(() => undefined);
    await gone;
  }
}

export async function runContainers({ workDir, roots, languages, runs, warmup }) {
  const results = {};
  for (const make of [dockerEngine, podmanEngine]) {
    const engine = await make(workDir);
    if (engine.skip) {
      results[make === dockerEngine ? 'docker' : 'podman'] = { skipped: engine.skip };
      continue;
    }
    const sockDir = path.join(workDir, `sock-${engine.name}`);
    await mkdir(sockDir, { recursive: true });
    const perLanguage = {};
    try {
      for (const language of languages) {
        const tag = `kiln-bench-${language}`;
        await importRoot(engine, roots[language].root, tag);
        const samples = [];
        for (let i = 0; i < warmup + runs; i++) {
          const ms = await runOnce(engine, tag, language, sockDir, i);
          if (i >= warmup) samples.push(ms);
        }
        perLanguage[language] = { samples };
      }
      results[engine.name] = { version: engine.version, languages: perLanguage };
    } catch (err) {
      results[engine.name] = { skipped: `${engine.name} failed: ${err.message}` };
    } finally {
      await engine.stop();
    }
  }
  return results;
}
