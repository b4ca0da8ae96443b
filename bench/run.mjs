#!/usr/bin/env node
// `npm run bench [-- --quick] [--runs N] [--only a,b] [--languages node,python] [--density N]
//   [--density-others N] [--burst-rounds N] [--warm-pairs N]`
// Measures Kiln's cold, stem and warm starts against bare processes, docker/podman and a
// qemu microVM on this machine, in one run, and writes bench/results/<timestamp>.json,
// latest.md and latest.svg. Numbers belong here, never in the tests.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { confineLikeAFunction } from './lib/bare-cgroup.mjs';
import { baseLayers, helloLayer, mountRoot } from './lib/base-rootfs.mjs';
import { svg } from './lib/chart.mjs';
import { startGateway } from './lib/gateway.mjs';
import { markdown } from './lib/report.mjs';
import { runAsyncDrain } from './scenarios/async.mjs';
import { runContainers } from './scenarios/containers.mjs';
import { runFloor } from './scenarios/floor.mjs';
import { deployHellos, runStarts, runThroughput } from './scenarios/kiln.mjs';
import { runOciRuntime } from './scenarios/oci-runtime.mjs';
import { runBurst, runDensity, runThaw } from './scenarios/pool.mjs';
import { runTracing } from './scenarios/tracing.mjs';
import { runVm } from './scenarios/vm.mjs';
import { runWarm } from './scenarios/warm.mjs';

const execFileP = promisify(execFile);
const HERE = import.meta.dirname;
const SCENARIOS = [
  'floor',
  'oci',
  'cold',
  'stem',
  'warm',
  'throughput',
  'async',
  'tracing',
  'burst',
  'thaw',
  'density',
  'containers',
  'vm',
];

function options(argv) {
  const quick = argv.includes('--quick');
  const value = (flag) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    quick,
    runs: Number(value('--runs') ?? (quick ? 3 : 30)),
    warmup: quick ? 1 : 3,
    warmRequests: quick ? 20 : 300,
    // The warm overhead's p99 is its 1 % tail: 2 000 pairs put 20 samples in it, not 3.
    warmPairs: Number(value('--warm-pairs') ?? (quick ? 100 : 2000)),
    seconds: quick ? 1 : 6,
    concurrencies: [1, 8, 64],
    // Idle node instances; python and java get `--density-others` (default 100).
    density: Number(value('--density') ?? (quick ? 5 : 1000)),
    densityOthers: Number(value('--density-others') ?? (quick ? 3 : 100)),
    burstRounds: Number(value('--burst-rounds') ?? (quick ? 1 : 5)),
    asyncInvocations: Number(value('--async') ?? (quick ? 200 : 1000)),
    only: (value('--only') ?? SCENARIOS.join(',')).split(','),
    languages: (value('--languages') ?? 'node,python,java').split(','),
  };
}

async function machine() {
  const cpu = os.cpus();
  const version = async (cmd, args) =>
    (await execFileP(cmd, args).catch(() => ({ stdout: 'absent' }))).stdout.split('\n')[0].trim();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.replace(/\s+/g, ' ').trim(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    ociRuntime: await version('crun', ['--version']),
    hostname: os.hostname(),
  };
}

/**
 * A bare node http server on TCP, the ceiling for the throughput scenario: in the root
 * cgroup, or (`confined`) in a cgroup placed and limited like a function container's.
 */
async function bareServer(port, confined = false) {
  const child = spawn(process.execPath, [path.join(HERE, 'hello/hello.mjs')], {
    env: { PORT: String(port) },
    stdio: 'ignore',
  });
  const release = confined ? await confineLikeAFunction(child.pid, `bench-bare-${child.pid}`) : undefined;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url: `http://127.0.0.1:${port}/`,
    pid: child.pid,
    confined: release !== undefined,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
      await release?.();
    },
  };
}

/** Write the markdown and SVG reports of a results object. */
async function writeReports(results, outDir) {
  const md = markdown(results);
  // A run of some scenarios (`--only`) writes `partial.*`: `latest.*` stays a full run's.
  const base = results.quick
    ? 'quick'
    : results.only && results.only !== SCENARIOS.join(',')
      ? 'partial'
      : 'latest';
  await writeFile(path.join(outDir, `${base}.md`), md);
  await writeFile(path.join(outDir, `${base}.svg`), svg(results));
  return md;
}

async function main() {
  const argv = process.argv.slice(2);
  // `--report <results.json>` rewrites the reports from a saved run, measuring nothing.
  const saved = argv.indexOf('--report');
  if (saved >= 0) {
    console.log(
      await writeReports(JSON.parse(await readFile(argv[saved + 1], 'utf8')), path.join(HERE, 'results')),
    );
    return;
  }
  const opts = options(argv);
  if (!existsSync(path.join(HERE, '../dist/kiln.js'))) throw new Error('build Kiln first: npm run build');
  const workDir = process.env.KILN_BENCH_DIR || '/var/tmp/kiln-bench';
  const cacheDir = process.env.KILN_TEST_CACHE || '/var/tmp/kiln-test-cache';
  await mkdir(workDir, { recursive: true });
  const log = (line) => console.error(`bench: ${line}`);
  const results = {
    startedAt: new Date().toISOString(),
    quick: opts.quick,
    runs: opts.runs,
    warmup: opts.warmup,
    only: opts.only.join(','),
    machine: await machine(),
  };
  const failures = [];
  // `selectedBy`: the scenario of `--only` that runs this step (a variant of it).
  const step = async (name, fn, selectedBy = name) => {
    if (!opts.only.includes(selectedBy)) return;
    log(`${name}…`);
    const started = Date.now();
    try {
      results[name] = await fn();
    } catch (err) {
      results[name] = { error: err.stack ?? String(err) };
      failures.push(`${name}: ${err.message}`);
    }
    log(`${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };

  const hello = await helloLayer(workDir);
  const roots = {};
  const gateways = [];
  try {
    for (const language of opts.languages) {
      roots[language] = await mountRoot(workDir, language, await baseLayers(cacheDir, language, log), hello);
    }
    await step('containers', () =>
      runContainers({ workDir, roots, languages: opts.languages, runs: opts.runs, warmup: opts.warmup }),
    );
    for (const r of Object.values(roots)) await r.bindSocketDir();
    await step('floor', () =>
      runFloor({ roots, languages: opts.languages, runs: opts.runs, warmup: opts.warmup }),
    );
    const anyRoot = Object.values(roots)[0].root;
    await step('oci', () => runOciRuntime({ workDir, root: anyRoot, runs: opts.runs, warmup: opts.warmup }));

    // No freezing here: the warm scenario compares the gateway with the shim's socket hit
    // directly, which a frozen instance would not answer. The pool gateway below freezes.
    const cold = await startGateway({
      workDir,
      cacheDir,
      stemCells: 0,
      name: 'cold',
      env: { KILN_FREEZE_AFTER_MS: 'off' },
    });
    gateways.push(cold);
    await deployHellos(cold, opts.languages);
    await step('cold', () =>
      runStarts(cold, { languages: opts.languages, runs: opts.runs, warmup: opts.warmup, kind: 'cold' }),
    );
    // The same cold start from a container created ahead (`KILN_PRECREATED`, issue 17): a
    // gateway of its own, each start waiting until the function's created container exists.
    await step(
      'precreated',
      async () => {
        const ahead = await startGateway({
          workDir,
          cacheDir,
          stemCells: 0,
          name: 'precreated',
          env: { KILN_FREEZE_AFTER_MS: 'off', KILN_PRECREATED: '2' },
        });
        try {
          await deployHellos(ahead, opts.languages);
          return await runStarts(ahead, {
            languages: opts.languages,
            runs: opts.runs,
            warmup: opts.warmup,
            kind: 'cold',
            precreated: true,
          });
        } finally {
          await ahead.stop();
        }
      },
      'cold',
    );
    await step('warm', () =>
      runWarm(cold, { languages: opts.languages, pairs: opts.warmPairs, warmup: opts.quick ? 100 : 3000 }),
    );
    await step('throughput', async () => {
      const port = 18_000 + Math.floor(Math.random() * 1000);
      const bare = await bareServer(port);
      const confined = await bareServer(port + 1, true);
      // A gateway of its own that never freezes idle instances: the shim-direct points hit an
      // instance the gateway is not using, which a frozen cgroup would leave unanswered.
      const tput = await startGateway({
        workDir,
        cacheDir,
        stemCells: 0,
        name: 'throughput',
        env: { KILN_FREEZE_AFTER_MS: 'off' },
      });
      gateways.push(tput);
      try {
        return {
          seconds: opts.seconds,
          ...(await runThroughput(
            tput,
            { root: bare.url, rootPid: bare.pid, confined: confined.confined ? confined.url : undefined },
            {
              concurrencies: opts.concurrencies,
              seconds: opts.seconds,
            },
          )),
        };
      } finally {
        await bare.stop();
        await confined.stop();
        await tput.stop();
        gateways.pop();
      }
    });
    await step('async', () =>
      runAsyncDrain(cold, { invocations: opts.asyncInvocations, syncRequests: opts.warmRequests }),
    );
    await cold.stop();
    gateways.pop();

    if (['burst', 'thaw', 'density'].some((s) => opts.only.includes(s))) {
      // As `kiln serve` runs by default: stem cells off so a burst starts cold, idle instances frozen.
      const pool = await startGateway({ workDir, cacheDir, stemCells: 0, name: 'pool' });
      gateways.push(pool);
      await step('burst', () =>
        runBurst(pool, {
          layouts: [
            [2, 4],
            [4, 8],
          ],
          requests: 64,
          rounds: opts.burstRounds,
        }),
      );
      await step('thaw', () => runThaw(pool, { runs: opts.runs }));
      await step('density', async () => {
        const byLanguage = {};
        for (const language of opts.languages) {
          const count = language === 'node' ? opts.density : opts.densityOthers;
          if (count > 0)
            byLanguage[language] = await runDensity(pool, {
              language,
              count,
              settleMs: opts.quick ? 0 : 60_000,
            });
        }
        return byLanguage;
      });
      await pool.stop();
      gateways.pop();
    }

    await step('tracing', () =>
      runTracing(startGateway, { workDir, cacheDir, requests: opts.warmRequests, seconds: opts.seconds }),
    );

    const stem = await startGateway({ workDir, cacheDir, stemCells: 2, name: 'stem' });
    gateways.push(stem);
    await deployHellos(stem, opts.languages);
    await step('stem', () =>
      runStarts(stem, { languages: opts.languages, runs: opts.runs, warmup: opts.warmup, kind: 'stem' }),
    );
    await stem.stop();
    gateways.pop();

    await step('vm', () =>
      runVm({
        cacheDir: workDir,
        roots,
        languages: opts.languages,
        runs: Math.min(opts.runs, opts.quick ? 2 : 10),
        warmup: 1,
      }),
    );
  } finally {
    for (const g of gateways) await g.stop().catch(() => undefined);
    for (const r of Object.values(roots)) await r.close();
  }

  const vmLangs = Object.values(results.vm?.languages ?? {})
    .map((v) => v.label)
    .filter(Boolean);
  results.vmLabel = vmLangs.length
    ? `VM: ${[...new Set(vmLangs)].join(', ')}; Firecracker's published ≤ 125 ms boot is the hardware-VM anchor`
    : '';
  const outDir = path.join(HERE, 'results');
  await mkdir(outDir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  await writeFile(
    path.join(outDir, `${stamp}${opts.quick ? '-quick' : ''}.json`),
    `${JSON.stringify(results, null, 1)}\n`,
  );
  console.log(await writeReports(results, outDir));
  if (failures.length) {
    console.error(`bench: ${failures.length} scenario(s) failed:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

await main();
