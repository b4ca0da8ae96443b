import { getMetricsFromIterator, type PromData, type PromHistogramData } from 'prom2javascript';
import { describe, expect, it } from 'vitest';
import { KilnMetrics } from '../telemetry/metrics.js';
import { parsePrometheusText } from './prometheus-text.js';
import { histogramQuantile, topRows, topTable } from './top-view.js';

async function scrape(metrics: KilnMetrics) {
  return parsePrometheusText(await metrics.render());
}

describe('parsePrometheusText', () => {
  it('reads what KilnMetrics writes, sample for sample as a parser package does', async () => {
    const metrics = new KilnMetrics();
    metrics.invoked({ function: 'a"b\\c', status: 200, start: 'warm', seconds: 0.003 });
    metrics.invoked({ function: 'x', status: 429, start: 'none', seconds: 0.0001 });
    metrics.started('x', 'node', 'cold', { mount: 0.01, init: 0.2 });
    const text = await metrics.render();
    const ours = parsePrometheusText(text);
    const theirs = await getMetricsFromIterator(text.split('\n')[Symbol.iterator]());
    let compared = 0;
    for (const [name, family] of Object.entries(theirs)) {
      for (const series of family.data as (PromData | PromHistogramData)[]) {
        const find = (n: string, labels: Record<string, string>) =>
          ours.find((s) => s.name === n && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
        if ('buckets' in series) {
          expect(find(`${name}_count`, series.labels)).toBe(series.count);
          for (const [le, count] of Object.entries(series.buckets))
            expect(find(`${name}_bucket`, { le, ...series.labels })).toBe(count);
        } else expect(find(name, series.labels)).toBe(series.value);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(5);
    expect(ours.find((s) => s.labels.function === 'a"b\\c')).toBeDefined();
  });

  it('skips comments, blank and unreadable lines', () => {
    expect(parsePrometheusText('# HELP x y\n\nx{a="1"} 2 1700000000\ny{a="1 3\nz +Inf\n')).toEqual([
      { name: 'x', labels: { a: '1' }, value: 2 },
      { name: 'z', labels: {}, value: Infinity },
    ]);
  });
});

describe('histogramQuantile', () => {
  it('interpolates within the bucket as PromQL does', () => {
    const buckets = [
      { le: 0.1, count: 0 },
      { le: 0.2, count: 10 },
      { le: Infinity, count: 10 },
    ];
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.15, 10);
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.199, 10);
    expect(histogramQuantile(0.5, [{ le: Infinity, count: 0 }])).toBeUndefined();
    expect(
      histogramQuantile(0.99, [
        { le: 1, count: 1 },
        { le: Infinity, count: 5 },
      ]),
    ).toBe(1);
  });
});

describe('topRows', () => {
  it('rates from the counters between two scrapes, starts and instances as read now', async () => {
    const metrics = new KilnMetrics();
    metrics.watch({
      instances: async () => [
        { id: 'i1', function: 'api', state: 'busy', memoryBytes: 0, cpuUsageUs: 0 },
        { id: 'i2', function: 'api', state: 'idle', memoryBytes: 0, cpuUsageUs: 0 },
      ],
      stemCellsReady: async () => ({}),
      isFunction: (name) => name === 'api',
    });
    metrics.invoked({ function: 'api', status: 200, start: 'cold', seconds: 1 });
    metrics.started('api', 'node', 'cold', { init: 0.5 });
    const before = await scrape(metrics);
    for (let i = 0; i < 8; i++)
      metrics.invoked({ function: 'api', status: 200, start: 'warm', seconds: 0.004 });
    metrics.invoked({ function: 'api', status: 502, start: 'warm', seconds: 0.004 });
    metrics.invoked({ function: 'api', status: 429, start: 'none', seconds: 0.0001 });
    metrics.invoked({ function: 'nobody', status: 404, start: 'none', seconds: 0.0001 });
    metrics.started('api', 'node', 'stem', { specialize: 0.01, init: 0.02 });
    const rows = topRows(before, await scrape(metrics), 2);
    expect(rows).toHaveLength(1);
    const [api] = rows;
    expect(api).toMatchObject({
      function: 'api',
      reqPerSec: 5,
      errorsPerSec: 1,
      coldStarts: 1,
      stemStarts: 1,
      instances: 2,
      busy: 1,
    });
    // 9 of the 10 in the (0.0025, 0.005] bucket, the 1 s cold request is before the interval.
    expect(api!.p50).toBeGreaterThan(0.0025);
    expect(api!.p50).toBeLessThanOrEqual(0.005);
    const table = topTable(rows);
    expect(table.header).toEqual([
      'FUNCTION',
      'REQ/S',
      'ERR/S',
      'P50 MS',
      'P99 MS',
      'COLD',
      'STEM',
      'INSTANCES',
      'BUSY',
    ]);
    expect(table.cells[0]!.slice(0, 3)).toEqual(['api', '5.0', '1.0']);
  });
});
