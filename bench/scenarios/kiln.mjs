// Scenarios 2-4 and 7 against a real gateway: cold and stem starts end to end (client sends
// → client has the response), Kiln's own phase timings, and throughput (warm latency:
// warm.mjs; density: pool.mjs).
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { serverTiming } from '../lib/gateway.mjs';
import { cpuPerRequest, pidsInCgroupOf } from '../lib/process-cpu.mjs';

const FUNCTIONS = path.resolve(import.meta.dirname, '../functions');

export async function deployHellos(gw, languages) {
  for (const language of languages) {
    await gw.deploy(path.join(FUNCTIONS, `hello-${language}`), {
      name: `hello-${language}`,
      runtime: language,
      ...(language === 'java' ? { handler: 'Hello' } : {}),
    });
  }
}

async function timedGet(gw, p) {
  const started = performance.now();
  const res = await gw.call('GET', p);
  const ms = performance.now() - started;
  if (res.status !== 200 || res.text !== 'hello\n') throw new Error(`GET ${p}: ${res.status} ${res.text}`);
  return { ms, start: res.headers['x-kiln-start'], phases: serverTiming(res.headers['server-timing']) };
}

/** No instance of the function, no stem cell: every request starts a container from the image. */
/**
 * `precreated`: every start waits until the function's container created ahead exists
 * (`KILN_PRECREATED`) and checks that the start used it (Server-Timing `precreated`).
 */
export async function runStarts(gw, { languages, runs, warmup, kind, precreated = false }) {
  const results = {};
  for (const language of languages) {
    const fn = `hello-${language}`;
    const samples = [];
    const phases = [];
    for (let i = 0; i < warmup + runs; i++) {
      await gw.stopAll(fn);
      if (kind === 'stem') await waitForStemCells(gw, language);
      if (precreated) await waitForPrecreated(gw, fn);
      const r = await timedGet(gw, `/fn/${fn}/`);
      if (r.start !== kind) throw new Error(`${fn}: expected a ${kind} start, got ${r.start}`);
      if (precreated && r.phases.precreated === undefined)
        throw new Error(`${fn}: the start did not use its created container`);
      if (i >= warmup) {
        samples.push(r.ms);
        phases.push(r.phases);
      }
    }
    results[language] = { samples, phases };
  }
  return results;
}

async function waitForStemCells(gw, language) {
  for (let i = 0; i < 600; i++) {
    const { stemCells } = await gw.instances();
    if (stemCells.filter((c) => c.language === language).length >= 1) return;
    await sleep(20);
  }
  throw new Error(`no ${language} stem cell became ready`);
}

async function waitForPrecreated(gw, fn) {
  for (let i = 0; i < 600; i++) {
    const { precreated = [] } = await gw.json('GET', '/instances');
    if (precreated.some((c) => c.function === fn && !c.creating)) return;
    await sleep(20);
  }
  throw new Error(`no container was created ahead for ${fn}`);
}

function cannon(url, connections, seconds, socketPath) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, pipelining: 1, socketPath }, (err, result) => {
      if (err) reject(err);
      else
        resolve({
          connections,
          reqPerSec: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors,
          requests: result.requests.total,
        });
    });
  });
}

/** `cannon`, with the CPU µs per request of each group of `pids` and of the load generator. */
function measuredCannon(pids, url, connections, seconds, socketPath) {
  return cpuPerRequest(pids, async () => {
    const result = await cannon(url, connections, seconds, socketPath);
    return { requests: result.requests, result };
  });
}

/**
 * The layouts issue 9 measures: one instance taking every connection (like the bare server),
 * and four instances sharing them.
 */
const THROUGHPUT_LAYOUTS = [
  { maxInstances: 1, concurrency: 64 },
  { maxInstances: 4, concurrency: 8 },
];

/**
 * Requests per second at each concurrency, through Kiln in each layout and against a bare
 * node server with the same load generator: `ceiling.root` in the root cgroup, and
 * `ceiling.confined` (when there is a cgroup tree) in a cgroup placed and limited like a
 * function container's, so that what CFS group scheduling takes on a busy host is not
 * counted as Kiln's overhead. Each bare point is measured right after Kiln's at the same
 * concurrency: the ratios compare neighbours in time on this shared machine.
 */
export async function runThroughput(gw, ceiling, { concurrencies, seconds }) {
  const layouts = [];
  for (const { maxInstances, concurrency } of THROUGHPUT_LAYOUTS) {
    const name = `tput-${maxInstances}x${concurrency}`;
    await gw.deploy(path.join(FUNCTIONS, 'hello-node'), {
      name,
      runtime: 'node',
      maxInstances: String(maxInstances),
      concurrency: String(concurrency),
      maxQueue: '1000',
    });
    const url = `${gw.url}/fn/${name}/`;
    // Warm every instance the layout may use, so no point pays a start.
    await cannon(url, maxInstances * concurrency, 1);
    // One of the layout's instances, hit on its unix socket without the gateway: what the
    // shim in its container serves, so Kiln ÷ shim is the gateway's share of the cost.
    const placed = (await gw.instances(name)).instances;
    const shimSocket = gw.socketOf(placed[0].id);
    // Where each request's CPU goes: the gateway, the layout's shims, the load generator.
    const shimPids = placed.flatMap((i) => pidsInCgroupOf(i.id));
    const firstShim = pidsInCgroupOf(placed[0].id);
    const kiln = [];
    const shim = [];
    const bare = [];
    const confined = [];
    for (const c of concurrencies) {
      kiln.push(await measuredCannon({ gateway: [gw.pid], shim: shimPids }, url, c, seconds));
      shim.push(await measuredCannon({ shim: firstShim }, 'http://localhost/', c, seconds, shimSocket));
      bare.push(await measuredCannon({ server: [ceiling.rootPid] }, ceiling.root, c, seconds));
      if (ceiling.confined) confined.push(await cannon(ceiling.confined, c, seconds));
    }
    const { instances } = await gw.instances(name);
    layouts.push({
      spec: `hello-node, maxInstances ${maxInstances} × concurrency ${concurrency}`,
      instances: instances.length,
      kiln,
      shim,
      bare,
      confined,
    });
    // Its instances would count in the density scenario's memory otherwise.
    await gw.call('DELETE', `/functions/${name}`);
  }
  return { layouts };
}
