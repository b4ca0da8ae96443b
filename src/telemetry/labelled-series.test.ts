import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LabelledCounter, LabelledHistogram } from './labelled-series.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** The same updates through prom-client's classes and ours, in one order. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const counter = new Counter({
    name: 'x_total',
    help: 'h',
    labelNames: ['function', 'status'],
    registers: [theirs],
  });
  const histogram = new Histogram({
    name: 'y_seconds',
    help: 'h',
    labelNames: ['function', 'start'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const ourCounter = new LabelledCounter('x_total', 'h', ['function', 'status'], [ours]);
  const ourHistogram = new LabelledHistogram('y_seconds', 'h', ['function', 'start'], BUCKETS, [ours]);
  return {
    theirs,
    ours,
    inc(fn: string, status: string, by?: number) {
      counter.inc({ function: fn, status }, by);
      ourCounter.at(fn, status).inc(by);
    },
    observe(fn: string, start: string, value: number) {
      histogram.observe({ function: fn, start }, value);
      ourHistogram.at(fn, start).observe(value);
    },
    reset() {
      counter.reset();
      histogram.reset();
      ourCounter.reset();
      ourHistogram.reset();
    },
  };
}

describe('LabelledCounter and LabelledHistogram', () => {
  it("export what prom-client's Counter and Histogram export for the same updates", async () => {
    const m = both();
    const values = [0.0004, 0.001, 0.0011, 0.05, 0.1, 0.7, 1, 3.5, 0, 0.3 + 0.1, 1e-9];
    values.forEach((v, i) => {
      m.observe(i % 3 === 0 ? 'b' : 'a', i % 2 === 0 ? 'warm' : 'cold', v);
      m.inc(i % 4 === 0 ? 'b' : 'a', i % 5 === 0 ? '500' : '200');
    });
    m.inc('a', '200', 2.5);
    const text = await m.ours.metrics();
    expect(text).toBe(await m.theirs.metrics());
    expect(text).toContain('y_seconds_bucket{le="+Inf",function="b",start="warm"}');
    expect(await m.ours.getMetricsAsJSON()).toEqual(await m.theirs.getMetricsAsJSON());
  });

  it('export nothing after a reset, and series made again after it', async () => {
    const m = both();
    m.observe('a', 'warm', 0.2);
    m.inc('a', '200');
    m.reset();
    expect(await m.ours.metrics()).toBe(await m.theirs.metrics());
    m.observe('c', 'warm', 0.02);
    m.inc('c', '404');
    expect(await m.ours.metrics()).toBe(await m.theirs.metrics());
  });

  it('refuse a value that is not a number, as prom-client does', () => {
    const histogram = new LabelledHistogram('z_seconds', 'h', ['function'], BUCKETS, [new Registry()]);
    expect(() => histogram.at('a').observe(Number.NaN)).toThrow(TypeError);
  });
});
