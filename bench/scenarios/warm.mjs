// Scenario: the gateway's overhead on a warm request (issue 9: p50 ≤ 0.3 ms, p99 ≤ 1.5 ms).
// One warm instance, sequential GETs, each through the gateway and straight to the same
// instance's shim socket, interleaved so that what the machine does meanwhile (another
// process, a vCPU taken by the host) lands on both sides alike instead of on whichever
// side ran during it.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Client } from 'undici';
import { scheduledNs } from '../lib/process-cpu.mjs';

/** One GET on a kept-alive `client`: ms from sending to having the whole body. */
async function timed(client, path, headers, expect) {
  const started = performance.now();
  const res = await client.request({ method: 'GET', path, headers });
  const text = await res.body.text();
  const ms = performance.now() - started;
  if (res.statusCode !== 200 || text !== 'hello\n') throw new Error(`GET ${path}: ${res.statusCode} ${text}`);
  expect?.(res.headers);
  return ms;
}

/**
 * `warmup` pairs first, unmeasured: after 200 of them the gateway's JIT was still compiling
 * (TurboFan on V8's worker threads took ~13 % of a CPU beside the requests, and the gateway
 * spent 500–700 µs of CPU per request); after 3 000 the compiles had stopped and it spent
 * 210–450 µs (perf and /proc schedstat of the gateway, issue 9). A gateway serves many
 * requests, and the shim warms itself at boot (runtimes/node/warmup.mjs): both sides are
 * compared warm.
 *
 * Both sides alike: an undici `Client` each (one kept-alive connection, no pipelining), the
 * same request as the shim gets it. The direct request carries the headers the gateway adds
 * (`x-forwarded-for`, `x-kiln-request-id`, `x-kiln-deadline`: src/gateway/invoke-handler.ts,
 * src/pool/instance.ts), so the shim does the same work for both and the difference is the
 * gateway's hop. Pairs alternate which side goes first, so neither always follows the other.
 * The gateway's CPU time over the pairs is its cost per request (it is idle during the
 * direct ones).
 */
export async function runWarm(gw, { languages, pairs, warmup }) {
  const results = {};
  for (const language of languages) {
    const fn = `hello-${language}`;
    const path = `/fn/${fn}/`;
    const first = await gw.call('GET', path);
    if (first.status !== 200) throw new Error(`GET ${path}: ${first.status} ${first.text}`);
    const [instance] = (await gw.instances(fn)).instances;
    const record = await gw.json('GET', `/functions/${fn}`);
    const { timeoutMs } = record.versions.find((v) => v.version === record.activeVersion).spec;
    const viaGateway = new Client(gw.url);
    const toShim = new Client('http://localhost', { socketPath: gw.socketOf(instance.id) });
    const sameInstance = (headers) => {
      if (headers['x-kiln-instance'] !== instance.id || headers['x-kiln-start'] !== 'warm')
        throw new Error(`${fn}: served by ${headers['x-kiln-instance']} (${headers['x-kiln-start']})`);
    };
    const gatewayOnce = () => timed(viaGateway, path, { host: 'localhost' }, sameInstance);
    const directOnce = () =>
      timed(toShim, '/', {
        host: 'localhost',
        'x-forwarded-for': '127.0.0.1',
        'x-kiln-request-id': randomUUID(),
        'x-kiln-deadline': String(Date.now() + timeoutMs),
      });
    const gateway = [];
    const direct = [];
    // Other work on this machine shows in the tail of both sides: the report gives the load.
    const loadBefore = os.loadavg()[0];
    let cpuUs;
    try {
      for (let i = 0; i < warmup; i++) {
        await gatewayOnce();
        await directOnce();
      }
      const cpuBefore = await scheduledNs(gw.pid);
      for (let i = 0; i < pairs; i++) {
        if (i % 2 === 0) {
          gateway.push(await gatewayOnce());
          direct.push(await directOnce());
        } else {
          direct.push(await directOnce());
          gateway.push(await gatewayOnce());
        }
      }
      cpuUs = Number((await scheduledNs(gw.pid)) - cpuBefore) / 1000;
    } finally {
      await viaGateway.close();
      await toShim.close();
    }
    results[language] = {
      viaGateway: gateway,
      direct,
      gatewayCpuUsPerRequest: cpuUs / pairs,
      load: [loadBefore, os.loadavg()[0]],
    };
  }
  return results;
}
