import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  getMetricsFromIterator,
  type PromData,
  type PromHistogramData,
  type PromMetrics,
} from 'prom2javascript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { packDir } from '../../src/build/pack-dir.js';
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

async function metrics(url: string): Promise<PromMetrics> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return getMetricsFromIterator((await res.text()).split('\n')[Symbol.iterator]());
}

const matches = (have: Record<string, string>, want: Record<string, string>) =>
  Object.entries(want).every(([k, v]) => have[k] === v);

/** The value of one sample of a counter or gauge (0 when absent), found by its labels. */
function sample(families: PromMetrics, name: string, labels: Record<string, string>): number {
  const found = (families[name]?.data as PromData[] | undefined)?.find((m) => matches(m.labels, labels));
  return found?.value ?? 0;
}

/** How many observations one series of a histogram has (0 when absent), found by its labels. */
function observations(families: PromMetrics, name: string, labels: Record<string, string>): number {
  expect(families[name]?.type).toBe('histogram');
  const found = (families[name]!.data as PromHistogramData[]).find((m) => matches(m.labels, labels));
  return found?.count ?? 0;
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
    // A name that is no function is counted under function="": strangers pick names, and
    // each new label value would be a series kept forever.
    expect(moved('kiln_invocations_total', { function: '', status: '404', start: 'none' })).toBe(1);
    const counted = (after.kiln_invocations_total!.data as PromData[]).map((m) => m.labels.function);
    expect(counted).not.toContain('nothing-here');
    expect(moved('kiln_cold_starts_total', { function: 'echo', runtime: 'node', start: 'cold' })).toBe(1);
    // Idle, or frozen once idle past the freeze delay (src/pool/warm-pool.ts).
    const resting = ['idle', 'frozen'].map((state) =>
      sample(after, 'kiln_instances', { function: 'echo', state }),
    );
    expect(resting[0]! + resting[1]!).toBe(1);
  });

  it.each([
    ['python', 'trace-echo-py', {}],
    ['java', 'trace-echo-java', { handler: 'TraceEcho' }],
  ])(
    'a %s function gets the call span’s traceparent (and the caller’s tracestate) in its event’s headers',
    async (runtime, fixture, extra) => {
      const name = `echo-${runtime}`;
      expect((await deployDir(t.url, path.join(FIXTURES, fixture), { name, runtime, ...extra })).status).toBe(
        201,
      );
      const caller = callerContext();
      const res = await fetch(`${t.url}/fn/${name}/`, {
        headers: { traceparent: caller.traceparent, tracestate: 'k=v' },
      });
      expect(res.status).toBe(200);
      const seen = await res.json();

      await tracing.forceFlush();
      const inTrace = () => receiver.spans.filter((s) => s.traceId === caller.traceId);
      await receiver.waitFor(
        () => inTrace().some((s) => s.name === name) && inTrace().some((s) => s.name === 'call'),
      );
      const root = inTrace().find((s) => s.name === name)!;
      expect(root.parentSpanId).toBe(caller.spanId);
      // The deploy's trial start served it: not a start this request waited for.
      expect(root.attributes).toMatchObject({
        'faas.name': name,
        'faas.coldstart': false,
        'kiln.prewarmed': true,
      });
      const call = inTrace().find((s) => s.name === 'call')!;
      expect(call.parentSpanId).toBe(root.spanId);
      expect(seen).toEqual({ traceparent: `00-${caller.traceId}-${call.spanId}-01`, tracestate: 'k=v' });
    },
  );

  it('an invoke through Lambda’s Invoke API is one span in the caller’s trace, and counted', async () => {
    expect(
      (await deployDir(t.url, path.join(FIXTURES, 'trace-echo-py'), { name: 'raw-py', runtime: 'python' }))
        .status,
    ).toBe(201);
    // The deploy's instance serves its first request; the traced one is warm.
    expect((await fetch(`${t.url}/fn/raw-py/`)).status).toBe(200);
    const before = await metrics(t.url);
    const caller = callerContext();
    const res = await fetch(`${t.url}/2015-03-31/functions/raw-py/invocations`, {
      method: 'POST',
      headers: { traceparent: caller.traceparent },
      body: JSON.stringify({ headers: { traceparent: 'the event’s own' } }),
    });
    expect(res.status).toBe(200);
    // A raw event reaches the handler as sent.
    expect(await res.json()).toEqual({ traceparent: 'the event’s own', tracestate: null });
    const requestId = res.headers.get('x-amz-request-id');
    const timing = (res.headers.get('server-timing') ?? '').split(', ').map((p) => p.split(';')[0]);
    // A warm start: no start phases (a frozen instance's thaw may come between).
    expect(timing.filter((p) => p !== 'thaw')).toEqual(['queue', 'fn']);
    expect(
      (await fetch(`${t.url}/2015-03-31/functions/no-such-fn/invocations`, { method: 'POST', body: '{}' }))
        .status,
    ).toBe(404);
    // A version named by the caller (ARN or NAME:1 to AWS, NAME@1 on /fn) counts as the function.
    const arn = 'arn:aws:lambda:us-east-1:000000000000:function:raw-py:1';
    expect(
      (await fetch(`${t.url}/2015-03-31/functions/${arn}/invocations`, { method: 'POST', body: '{}' }))
        .status,
    ).toBe(200);
    expect((await fetch(`${t.url}/fn/raw-py@1/`)).status).toBe(200);

    await tracing.forceFlush();
    const inTrace = () => receiver.spans.filter((s) => s.traceId === caller.traceId);
    await receiver.waitFor(() => inTrace().length >= 4);
    const root = inTrace().find((s) => s.name === 'raw-py')!;
    expect(root.parentSpanId).toBe(caller.spanId);
    expect(root.attributes).toMatchObject({
      'faas.invocation_id': requestId,
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'kiln.start': 'warm',
    });
    expect(
      childrenOf(inTrace(), root)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['acquire', 'call']);

    const after = await metrics(t.url);
    const moved = (labels: Record<string, string>) =>
      sample(after, 'kiln_invocations_total', labels) - sample(before, 'kiln_invocations_total', labels);
    expect(moved({ function: 'raw-py', status: '200', start: 'warm' })).toBe(3);
    expect(moved({ function: '', status: '404', start: 'none' })).toBe(1);
  });

  it('a start from a stem cell shows as one: kiln.start=stem with its specialize phase, on /metrics by kind and phase', async () => {
    const s = await startTestGateway({ stemCells: 1 });
    try {
      expect(
        (await deployDir(s.url, path.join(FIXTURES, 'trace-echo'), { name: 'stemmed', runtime: 'node' }))
          .status,
      ).toBe(201);
      // Without the deploy's instance, the next request takes the stem cell (once it is back).
      for (const instance of await s.kiln.pool.list())
        if (instance.function === 'stemmed') await s.kiln.pool.stop(instance.id);
      await expect
        .poll(async () => (await s.kiln.pool.list()).filter((i) => i.function === 'stemmed').length, {
          timeout: 30_000,
        })
        .toBe(0);
      await s.kiln.pool.stemCells.whenFull();

      const caller = callerContext();
      const res = await fetch(`${s.url}/fn/stemmed/`, { headers: { traceparent: caller.traceparent } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-kiln-start')).toBe('stem');
      const timing = (res.headers.get('server-timing') ?? '').split(', ').map((p) => p.split(';')[0]);
      expect(timing).toEqual(['queue', 'specialize', 'init', 'fn']);

      await tracing.forceFlush();
      const inTrace = () => receiver.spans.filter((sp) => sp.traceId === caller.traceId);
      await receiver.waitFor(() => inTrace().length >= 6);
      const root = inTrace().find((sp) => sp.name === 'stemmed')!;
      expect(root.attributes).toMatchObject({ 'faas.coldstart': true, 'kiln.start': 'stem' });
      const acquire = childrenOf(inTrace(), root).find((sp) => sp.name === 'acquire')!;
      expect(acquire.attributes['kiln.start']).toBe('stem');
      expect(childrenOf(inTrace(), acquire).map((sp) => sp.name)).toEqual([
        'queue wait',
        'specialize',
        'init',
      ]);

      const after = await metrics(s.url);
      expect(
        sample(after, 'kiln_cold_starts_total', { function: 'stemmed', runtime: 'node', start: 'stem' }),
      ).toBe(1);
      expect(
        sample(after, 'kiln_cold_starts_total', { function: 'stemmed', runtime: 'node', start: 'cold' }),
      ).toBe(0);
      const counted = (phase: string) =>
        observations(after, 'kiln_cold_start_duration_seconds', { runtime: 'node', start: 'stem', phase });
      expect([counted('specialize'), counted('init'), counted('total'), counted('mount')]).toEqual([
        1, 1, 1, 0,
      ]);
    } finally {
      await s.close();
    }
  });

  it('an async attempt is a span in the submitter’s trace, and the function gets its traceparent', async () => {
    // `echo` (node, trace-echo) was deployed by the cold invoke test.
    const before = await metrics(t.url);
    const caller = callerContext();
    const submitted = await fetch(`${t.url}/async/echo/later`, {
      method: 'POST',
      headers: { traceparent: caller.traceparent },
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const done = await vi.waitFor(
      async () => {
        const v = (await (await fetch(`${t.url}/async/${id}`)).json()) as {
          state: string;
          result?: { body: { data: string } };
        };
        if (v.state !== 'succeeded') throw new Error(`still ${v.state}`);
        return v;
      },
      { timeout: 30_000, interval: 50 },
    );
    const seen = JSON.parse(done.result!.body.data) as { traceparent: string };

    await tracing.forceFlush();
    const inTrace = () => receiver.spans.filter((s) => s.traceId === caller.traceId);
    await receiver.waitFor(() => inTrace().some((s) => s.name === 'call'));
    const root = inTrace().find((s) => s.name === 'echo')!;
    expect(root.parentSpanId).toBe(caller.spanId);
    expect(root.kind).toBe(5); // CONSUMER
    expect(root.attributes).toMatchObject({
      'faas.trigger': 'other',
      'faas.invocation_id': id,
      'http.response.status_code': 200,
    });
    const call = inTrace().find((s) => s.name === 'call')!;
    expect(call.parentSpanId).toBe(root.spanId);
    expect(seen.traceparent).toBe(`00-${caller.traceId}-${call.spanId}-01`);

    const after = await metrics(t.url);
    const moved = (labels: Record<string, string>) =>
      sample(after, 'kiln_invocations_total', labels) - sample(before, 'kiln_invocations_total', labels);
    expect(moved({ function: 'echo', status: '200', start: 'warm' })).toBe(1);
  });

  it('throttles, timeouts, crashes and OOM kills each move their counter by one; memory and cpu come from cgroups', async () => {
    expect(
      (
        await deployDir(t.url, path.join(FIXTURES, 'faults'), {
          maxInstances: '1',
          maxQueue: '1',
          timeoutMs: '3000',
        })
      ).status,
    ).toBe(201);
    const before = await metrics(t.url);
    expect((await fetch(`${t.url}/fn/faults/sleep?ms=10000`)).status).toBe(504);
    expect((await fetch(`${t.url}/fn/faults/exit`)).status).toBe(502);
    expect((await fetch(`${t.url}/fn/faults/hog`)).status).toBe(502);
    // One request in the instance, one waiting: the next is refused.
    const held = fetch(`${t.url}/fn/faults/sleep?ms=2500`);
    await expect
      .poll(
        async () => sample(await metrics(t.url), 'kiln_instances', { function: 'faults', state: 'busy' }),
        {
          timeout: 30_000,
        },
      )
      .toBe(1);
    const queued = fetch(`${t.url}/fn/faults/`);
    await expect
      .poll(async () => sample(await metrics(t.url), 'kiln_queue_depth', { function: 'faults' }), {
        timeout: 30_000,
      })
      .toBe(1);
    expect((await fetch(`${t.url}/fn/faults/`)).status).toBe(429);
    expect((await held).status).toBe(200);
    expect((await queued).status).toBe(200);

    const after = await metrics(t.url);
    const moved = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    for (const reason of ['timeout', 'crash', 'oom', 'throttled'])
      expect([reason, moved('kiln_invoke_failures_total', { function: 'faults', reason })]).toEqual([
        reason,
        1,
      ]);
    expect(moved('kiln_invocations_total', { function: 'faults', status: '504' })).toBe(1);
    expect(moved('kiln_invocations_total', { function: 'faults', status: '429', start: 'none' })).toBe(1);
    expect(sample(after, 'kiln_queue_depth', { function: 'faults' })).toBe(0);
    expect(sample(after, 'kiln_function_memory_bytes', { function: 'faults' })).toBeGreaterThan(0);
    expect(sample(after, 'kiln_function_cpu_seconds_total', { function: 'faults' })).toBeGreaterThan(0);
  });
});
