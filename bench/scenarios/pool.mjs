// The pool under the loads issue 9 names, against a gateway that freezes idle instances as
// `kiln serve` does by default: a burst of first requests on a function scaled to zero, the
// cost of thawing a frozen instance, and density (N idle instances, what each costs the host,
// and that every one still answers).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { serverTiming } from '../lib/gateway.mjs';

const FUNCTIONS = path.resolve(import.meta.dirname, '../functions');
/** The spec's cap on `minInstances` per function: density spreads N over ⌈N/100⌉ functions. */
const MIN_INSTANCES_CAP = 100;
/**
 * Rounds of one request per instance at once, until each has answered one: a request that
 * ends before the last one is placed frees its instance for it (placement packs), so a fast
 * runtime's instance can go unpicked for a round (python at 100: 1 of 100 after 10 rounds,
 * every request answered 200).
 */
const ROUNDS_TO_REACH_EVERY_INSTANCE = 40;

const specOf = (language) => ({ runtime: language, ...(language === 'java' ? { handler: 'Hello' } : {}) });

/** Wait for `check` to hold, polling every `everyMs`; throws after `limitMs`. */
async function until(check, limitMs, what, everyMs = 20) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await sleep(everyMs);
  }
}

/**
 * `requests` concurrent first requests to a function at zero, for each layout (maxInstances ×
 * concurrency), `rounds` times: time until all are answered, each request's latency, and the
 * most instances that ever existed (sampled from `GET /instances` while it ran, and counted
 * from the answers' `x-kiln-instance`).
 */
export async function runBurst(gw, { layouts, requests, rounds }) {
  const results = [];
  for (const [maxInstances, concurrency] of layouts) {
    const name = `burst-${maxInstances}x${concurrency}`;
    await gw.deploy(path.join(FUNCTIONS, 'hello-node'), {
      name,
      ...specOf('node'),
      maxInstances: String(maxInstances),
      concurrency: String(concurrency),
      maxQueue: String(requests),
    });
    const client = new Pool(gw.url, { connections: requests, pipelining: 1 });
    const totals = [];
    const latencies = [];
    let mostInstances = 0;
    let mostAnswering = 0;
    let non200 = 0;
    const starts = { cold: 0, stem: 0, warm: 0 };
    try {
      for (let round = 0; round < rounds; round++) {
        await gw.stopAll(name);
        await until(async () => (await gw.instances(name)).instances.length === 0, 30_000, `${name} at zero`);
        let done = false;
        const watching = (async () => {
          while (!done) {
            mostInstances = Math.max(mostInstances, (await gw.instances(name)).instances.length);
            await sleep(10);
          }
        })();
        const started = performance.now();
        const answers = await Promise.all(
          Array.from({ length: requests }, async () => {
            const sent = performance.now();
            const res = await client.request({ method: 'GET', path: `/fn/${name}/` });
            await res.body.text();
            latencies.push(performance.now() - sent);
            return res;
          }),
        );
        totals.push(performance.now() - started);
        done = true;
        await watching;
        mostInstances = Math.max(mostInstances, (await gw.instances(name)).instances.length);
        non200 += answers.filter((r) => r.statusCode !== 200).length;
        mostAnswering = Math.max(
          mostAnswering,
          new Set(answers.map((r) => r.headers['x-kiln-instance'])).size,
        );
        for (const r of answers)
          starts[r.headers['x-kiln-start']] = (starts[r.headers['x-kiln-start']] ?? 0) + 1;
      }
    } finally {
      await client.close();
      await gw.call('DELETE', `/functions/${name}`);
    }
    results.push({
      maxInstances,
      concurrency,
      requests,
      rounds,
      totals,
      latencies,
      mostInstances,
      mostAnswering,
      non200,
      starts,
    });
  }
  return { layouts: results };
}

/**
 * The cost of the freezer: sequential requests to one instance, each after it has been
 * frozen (its state in `GET /instances`), against requests straight after one another.
 */
export async function runThaw(gw, { runs }) {
  const name = 'thawed';
  await gw.deploy(path.join(FUNCTIONS, 'hello-node'), { name, ...specOf('node'), maxInstances: '1' });
  const client = new Pool(gw.url, { connections: 1 });
  const get = async () => {
    const sent = performance.now();
    const res = await client.request({ method: 'GET', path: `/fn/${name}/` });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET /fn/${name}/: ${res.statusCode}`);
    return { ms: performance.now() - sent, phases: serverTiming(res.headers['server-timing']) };
  };
  try {
    await get();
    const frozen = [];
    const thaw = [];
    const warm = [];
    for (let i = 0; i < runs; i++) {
      // Frozen by the kernel's account too: the thaw then measures a thaw, not the end of
      // a freeze still under way (the pool says `frozen` as soon as it asks).
      await until(
        async () => {
          const [x] = (await gw.instances(name)).instances;
          return x?.state === 'frozen' && (await kernelFrozen(x.id));
        },
        10_000,
        'the instance frozen',
        5,
      );
      const r = await get();
      if (r.phases.thaw === undefined) throw new Error('a request to a frozen instance reported no thaw');
      frozen.push(r.ms);
      thaw.push(r.phases.thaw);
      warm.push((await get()).ms);
    }
    return { frozen, thaw, warm };
  } finally {
    await client.close();
    await gw.call('DELETE', `/functions/${name}`);
  }
}

/**
 * N idle instances of one language, spread over ⌈N/100⌉ functions (`minInstances` is capped
 * at 100 per function): how long they took to start, what the host gave each (MemAvailable
 * drop ÷ N), cgroup memory, and that every one answers a request afterwards.
 */
export async function runDensity(gw, { language, count, settleMs = 60_000 }) {
  const names = [];
  // The instances of the scenario before (deleted functions) are torn down after the DELETE
  // answers; their memory coming back during this run would count against it.
  await until(async () => (await gw.instances()).instances.length === 0, 5 * 60_000, 'an empty pool', 1000);
  await sleep(2000);
  const before = await memAvailableKb();
  const started = performance.now();
  for (let left = count, i = 0; left > 0; i++) {
    const n = Math.min(MIN_INSTANCES_CAP, left);
    const name = `dense-${language}-${i}`;
    names.push(name);
    await gw.deploy(path.join(FUNCTIONS, `hello-${language}`), {
      name,
      ...specOf(language),
      minInstances: String(n),
      maxInstances: String(n),
      maxQueue: String(n * 4),
      idleTtlMs: '3600000',
    });
    left -= n;
  }
  const resting = (i) => i.state === 'idle' || i.state === 'frozen';
  const mine = async () =>
    (await gw.instances()).instances.filter((i) => names.includes(i.function) && resting(i));
  // Polled every 2 s: `GET /instances` reads every instance's cgroup, which at 1000 instances
  // is work that slows the starts being measured.
  await until(
    async () => (await mine()).length >= count,
    30 * 60_000,
    `${count} ${language} instances`,
    2000,
  );
  const seconds = (performance.now() - started) / 1000;
  // Every instance frozen (KILN_FREEZE_AFTER_MS) or idle, no start in flight.
  await sleep(2000);
  const atOnce = await memAvailableKb();
  // Then idle for `settleMs`: the gateway's V8 keeps the garbage of the starts (a young
  // generation grown to 32 MiB, buffers) until its memory reducer runs, ~25 s after they end
  // (measured at 500 instances: the gateway's RSS 158 → 109 MiB at +30 s, then flat). Idle
  // instances stay at the settled figure; both are reported.
  await sleep(settleMs);
  const after = await memAvailableKb();
  const instances = await mine();
  const rss = [];
  for (const i of instances) {
    const procs = await readFile(`/sys/fs/cgroup/memory/kiln/${i.id}/cgroup.procs`, 'utf8').catch(() => '');
    let kb = 0;
    for (const pid of procs.split('\n').filter(Boolean)) kb += await rssKb(pid);
    rss.push(kb);
  }
  // Every instance answers: per function, as many requests at once as it has instances
  // (placement puts each on an idle one), again until every instance has answered.
  const answered = new Set();
  const client = new Pool(gw.url, { connections: MIN_INSTANCES_CAP });
  let failures = 0;
  /** Failed answers by status and the start of their body. */
  const failed = {};
  try {
    for (const name of names) {
      const ids = new Set(instances.filter((i) => i.function === name).map((i) => i.id));
      for (
        let round = 0;
        round < ROUNDS_TO_REACH_EVERY_INSTANCE && [...ids].some((id) => !answered.has(id));
        round++
      ) {
        const answers = await Promise.all(
          Array.from({ length: ids.size }, async () => {
            const res = await client.request({ method: 'GET', path: `/fn/${name}/` });
            const text = await res.body.text();
            const ok = res.statusCode === 200 && text === 'hello\n';
            return {
              ok,
              id: res.headers['x-kiln-instance'],
              why: ok ? '' : `${res.statusCode} ${text.slice(0, 120)}`,
            };
          }),
        );
        for (const a of answers) {
          if (a.ok) answered.add(a.id);
          else {
            failures++;
            failed[a.why] = (failed[a.why] ?? 0) + 1;
          }
        }
      }
    }
  } finally {
    await client.close();
    for (const name of names) await gw.call('DELETE', `/functions/${name}`);
  }
  return {
    language,
    count,
    functions: names.length,
    seconds,
    cgroupMiB: instances.map((i) => i.memoryBytes / 1048576),
    rssMiB: rss.map((kb) => kb / 1024),
    hostMiBPerInstance: (before - after) / 1024 / count,
    hostMiBPerInstanceAtOnce: (before - atOnce) / 1024 / count,
    settleSeconds: settleMs / 1000,
    answered: instances.filter((i) => answered.has(i.id)).length,
    failures,
    failed,
  };
}

/** The kernel's word on a container's cgroup: frozen (cgroup v1 freezer, else v2 `cgroup.events`). */
async function kernelFrozen(id) {
  const v1 = await readFile(`/sys/fs/cgroup/freezer/kiln/${id}/freezer.state`, 'utf8').catch(() => undefined);
  if (v1 !== undefined) return v1.trim() === 'FROZEN';
  const events = await readFile(`/sys/fs/cgroup/kiln/${id}/cgroup.events`, 'utf8').catch(() => '');
  return /^frozen 1$/m.test(events);
}

async function memAvailableKb() {
  const text = await readFile('/proc/meminfo', 'utf8');
  return Number(/MemAvailable:\s+(\d+)/.exec(text)[1]);
}

async function rssKb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const line = status.split('\n').find((l) => l.startsWith('VmRSS:'));
  return line ? Number(line.split(/\s+/)[1]) : 0;
}
