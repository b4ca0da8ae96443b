import { randomBytes } from 'node:crypto';
import path from 'node:path';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDir } from '../../src/cli/pack-dir.js';
import { type InstalledTracing, installTracing } from '../../src/telemetry/otel-sdk.js';
import { tracingEnabled } from '../../src/telemetry/tracing.js';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';
import { OtlpReceiver, type ReceivedSpan } from '../otlp-receiver.js';

/** A caller's W3C trace context (a trace id and the caller's own span id). */
function callerContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

async function metrics(url: string): Promise<PromFamily[]> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(await res.text());
}

/** The value of one sample of a counter or gauge (0 when absent), found by its labels. */
function sample(families: PromFamily[], name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  const found = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return found ? Number(found.value) : 0;
}

function childrenOf(spans: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] {
  return spans.filter((s) => s.parentSpanId === parent.spanId);
}

describe('telemetry without OTEL variables', () => {
  it('creates no exporter and makes no span', async () => {
    expect(await installTracing({ PATH: process.env.PATH })).toBeUndefined();
    expect(
      await installTracing({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }),
    ).toBeUndefined();
    expect(tracingEnabled()).toBe(false);
  });
});

describe('telemetry with an OTLP/HTTP endpoint', () => {
  let receiver: OtlpReceiver;
  let tracing: InstalledTracing;
  let t: TestGateway;

  beforeAll(async () => {
    receiver = new OtlpReceiver();
    const endpoint = await receiver.listen();
    tracing = (await installTracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'kiln-test',
    }))!;
    expect(tracing).toBeDefined();
    t = await startTestGateway();
  });

  afterAll(async () => {
    await t?.close();
    await tracing?.shutdown();
    await receiver?.close();
  });

  it('a deploy is one span in the caller’s trace, with a child per phase, and counts on /metrics', async () => {
    const before = await metrics(t.url);
    const caller = callerContext();
    const res = await fetch(`${t.url}/functions?name=traced&runtime=node`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip', traceparent: caller.traceparent },
      body: (await packDir(path.join(FIXTURES, 'hello-v2'))) as unknown as BodyInit,
    });
    expect(res.status).toBe(201);
    const timing = (res.headers.get('server-timing') ?? '').split(', ').map((p) => p.split(';')[0]);
    expect(timing).toEqual(['receive', 'queue', 'base', 'build', 'layer', 'image', 'prepare', 'commit']);

    await tracing.forceFlush();
    const isDeploy = (s: ReceivedSpan) => s.traceId === caller.traceId && s.name === 'deploy traced';
    await receiver.waitFor((spans) => spans.some(isDeploy));
    const deploy = receiver.spans.find(isDeploy)!;
    expect(deploy.parentSpanId).toBe(caller.spanId);
    expect(deploy.service).toBe('kiln-test');
    expect(deploy.attributes).toMatchObject({
      'faas.name': 'traced',
      'faas.version': '1',
      'kiln.runtime': 'node',
      'http.response.status_code': 201,
    });
    await receiver.waitFor((spans) => childrenOf(spans, deploy).length === 8);
    const children = childrenOf(receiver.spans, deploy);
    expect(children.map((s) => s.name)).toEqual([
      'unpack',
      'queue',
      'base image ensure',
      'build',
      'layer write',
      'image write',
      'trial start',
      'commit',
    ]);
    // Each child span is the Server-Timing phase of the same name: same duration.
    const durations = Object.fromEntries(
      (res.headers.get('server-timing') ?? '').split(', ').map((p) => {
        const [name, dur] = p.split(';dur=');
        return [name, Number(dur)];
      }),
    );
    const trial = children.find((s) => s.name === 'trial start')!;
    const trialMs = Number(BigInt(trial.endTimeUnixNano) - BigInt(trial.startTimeUnixNano)) / 1e6;
    expect(trialMs).toBeCloseTo(durations.prepare!, 1);
    for (const child of children) {
      expect(child.traceId).toBe(caller.traceId);
      expect(BigInt(child.startTimeUnixNano) >= BigInt(deploy.startTimeUnixNano)).toBe(true);
      expect(BigInt(child.endTimeUnixNano) <= BigInt(deploy.endTimeUnixNano)).toBe(true);
    }

    const after = await metrics(t.url);
    const labels = { function: 'traced', runtime: 'node', outcome: 'ok' };
    expect(sample(after, 'kiln_deploys_total', labels) - sample(before, 'kiln_deploys_total', labels)).toBe(
      1,
    );
  });

  it('a cold invoke is one span in the caller’s trace with its start phases, and the function gets the call’s traceparent', async () => {
    expect(
      (await deployDir(t.url, path.join(FIXTURES, 'trace-echo'), { name: 'echo', runtime: 'node' })).status,
    ).toBe(201);
    // The deploy's trial start left an instance; without it the next request starts cold.
    for (const instance of await t.kiln.pool.list())
      if (instance.function === 'echo') await t.kiln.pool.stop(instance.id);
    await expect
      .poll(async () => (await t.kiln.pool.list()).filter((i) => i.function === 'echo').length, {
        timeout: 30_000,
      })
      .toBe(0);

    const before = await metrics(t.url);
    const caller = callerContext();
    const cold = await fetch(`${t.url}/fn/echo/hi`, {
      headers: { traceparent: caller.traceparent, tracestate: 'k=v' },
    });
    expect(cold.status).toBe(200);
    expect(cold.headers.get('x-kiln-start')).toBe('cold');
    const seen = (await cold.json()) as { traceparent: string };
    const requestId = cold.headers.get('x-kiln-request-id')!;
    // Two warm requests and one to no function: the counters move by exactly these.
    for (let i = 0; i < 2; i++)
      expect((await fetch(`${t.url}/fn/echo/`)).headers.get('x-kiln-start')).toBe('warm');
    expect((await fetch(`${t.url}/fn/nothing-here/`)).status).toBe(404);

    await tracing.forceFlush();
    const isRoot = (s: ReceivedSpan) => s.traceId === caller.traceId && s.name === 'echo';
    await receiver.waitFor((spans) => spans.some(isRoot));
    const root = receiver.spans.find(isRoot)!;
    expect(root.parentSpanId).toBe(caller.spanId);
    expect(root.kind).toBe(2); // SERVER
    expect(root.attributes).toMatchObject({
      'faas.trigger': 'http',
      'faas.name': 'echo',
      'faas.version': '1',
      'faas.coldstart': true,
      'faas.invocation_id': requestId,
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'kiln.start': 'cold',
      'kiln.instance': cold.headers.get('x-kiln-instance'),
    });
    await receiver.waitFor((spans) => spans.filter((s) => s.traceId === caller.traceId).length >= 8);
    const inTrace = receiver.spans.filter((s) => s.traceId === caller.traceId);
    const children = childrenOf(inTrace, root);
    expect(children.map((s) => s.name).sort()).toEqual(['acquire', 'call']);
    const acquire = children.find((s) => s.name === 'acquire')!;
    expect(acquire.attributes['kiln.start']).toBe('cold');
    expect(childrenOf(inTrace, acquire).map((s) => s.name)).toEqual([
      'queue wait',
      'mount',
      'runtime create+start',
      'shim ready',
      'init',
    ]);
    // The function was handed the call span's context: its own spans would join this trace.
    const call = children.find((s) => s.name === 'call')!;
    expect(seen.traceparent).toBe(`00-${caller.traceId}-${call.spanId}-01`);
    // Server-Timing and the spans are the same phases.
    const timing = Object.fromEntries(
      (cold.headers.get('server-timing') ?? '').split(', ').map((p) => {
        const [name, dur] = p.split(';dur=');
        return [name, Number(dur)];
      }),
    );
    expect(Object.keys(timing)).toEqual(['queue', 'mount', 'runtime', 'ready', 'init', 'fn']);
    const ms = (s: ReceivedSpan) => Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
    const init = childrenOf(inTrace, acquire).find((s) => s.name === 'init')!;
    expect(ms(init)).toBeCloseTo(timing.init!, 1);
    expect(ms(call)).toBeCloseTo(timing.fn!, 1);

    const after = await metrics(t.url);
    const moved = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(moved('kiln_invocations_total', { function: 'echo', status: '200', start: 'cold' })).toBe(1);
    expect(moved('kiln_invocations_total', { function: 'echo', status: '200', start: 'warm' })).toBe(2);
    expect(moved('kiln_invocations_total', { function: 'nothing-here', status: '404', start: 'none' })).toBe(
      1,
    );
    expect(moved('kiln_cold_starts_total', { function: 'echo', runtime: 'node', start: 'cold' })).toBe(1);
    expect(sample(after, 'kiln_instances', { function: 'echo', state: 'idle' })).toBe(1);
  });
});
