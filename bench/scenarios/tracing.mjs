// The cost of tracing (issue 13): warm latency and throughput of one node function through a
// gateway with no OTEL variables (no SDK loaded, no span made) and through one exporting every
// span over OTLP/HTTP to a local collector, the requests interleaved one to each so that both
// see the same machine.

import { createServer } from 'node:http';
import path from 'node:path';
import autocannon from 'autocannon';
import { scheduledNs } from '../lib/process-cpu.mjs';

const FUNCTIONS = path.resolve(import.meta.dirname, '../functions');

/** An OTLP/HTTP collector that takes `/v1/traces` (JSON) and counts the spans it got. */
async function otlpSink() {
  let spans = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) spans += (ss.spans ?? []).length;
      } catch {
        // Counted as nothing: the bench measures the gateway, not this sink.
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    spans: () => spans,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function cannon(url, connections, seconds) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, pipelining: 1 }, (err, result) => {
      if (err) reject(err);
      else
        resolve({
          connections,
          reqPerSec: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
        });
    });
  });
}

async function timed(gw, p) {
  const started = performance.now();
  const res = await gw.call('GET', p, undefined, {
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  });
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${res.text}`);
  return ms;
}

export async function runTracing(startGateway, { workDir, cacheDir, requests, seconds }) {
  const sink = await otlpSink();
  const gateways = [];
  try {
    const off = await startGateway({ workDir, cacheDir, stemCells: 0, name: 'trace-off' });
    gateways.push(off);
    const on = await startGateway({
      workDir,
      cacheDir,
      stemCells: 0,
      name: 'trace-on',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_SERVICE_NAME: 'kiln-bench' },
    });
    gateways.push(on);
    for (const gw of gateways)
      await gw.deploy(path.join(FUNCTIONS, 'hello-node'), {
        name: 'traced',
        runtime: 'node',
        concurrency: '64',
        maxInstances: '1',
        maxQueue: '1000',
      });
    for (let i = 0; i < 20; i++) for (const gw of gateways) await timed(gw, '/fn/traced/');
    const samples = { off: [], on: [] };
    // Each gateway's CPU over the same window: the sequential requests, then until their spans
    // are exported (the batch exporter works off the request path, every 5 s).
    const cpuStart = { off: await scheduledNs(off.pid), on: await scheduledNs(on.pid) };
    for (let i = 0; i < requests; i++) {
      // Alternate which goes first, so neither always follows the other.
      const order = i % 2 ? ['off', 'on'] : ['on', 'off'];
      for (const which of order) samples[which].push(await timed(which === 'on' ? on : off, '/fn/traced/'));
    }
    const wanted = (requests + 20) * 4;
    for (let i = 0; i < 150 && sink.spans() < wanted; i++) await new Promise((r) => setTimeout(r, 100));
    const cpuUsPerRequest = {
      off: Number((await scheduledNs(off.pid)) - cpuStart.off) / 1000 / requests,
      on: Number((await scheduledNs(on.pid)) - cpuStart.on) / 1000 / requests,
    };
    const spansExported = sink.spans();
    const throughput = { off: [], on: [] };
    for (const which of ['off', 'on', 'off', 'on'])
      throughput[which].push(await cannon(`${(which === 'on' ? on : off).url}/fn/traced/`, 8, seconds));
    return { requests, seconds, samples, cpuUsPerRequest, throughput, spansExported };
  } finally {
    for (const gw of gateways) await gw.stop().catch(() => undefined);
    await sink.close();
  }
}
