import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/logs/log-store.js';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Issue 8, attempt 3 (second half): stdout and stderr went to an uncapped container.log
 * (1 GiB in 0.55 s). Now they go through the gateway: per-stream rate caps (LineCapture)
 * into a per-function bounded store (LogStore). A function writes FLOOD_MIB of lines as fast
 * as it can; the store stays within its bound, the excess is dropped and the log says so,
 * and the gateway's memory does not follow the flood.
 */
const FLOOD_MIB = 512;
let t: TestGateway;
let records: LogRecord[];
let rssGrowth: number;
let floodMs: number;

beforeAll(async () => {
  t = await startTestGateway();
  const deployed = await deployDir(t.url, path.join(FIXTURES, 'hostile'), {
    name: 'flood',
    runtime: 'python',
  });
  expect(deployed.status).toBe(201);
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const res = await fetch(`${t.url}/fn/flood/flood?mib=${FLOOD_MIB}`);
  expect(res.status).toBe(200);
  await t.kiln.logs.flush();
  floodMs = performance.now() - started;
  rssGrowth = process.memoryUsage().rss - rssBefore;
  records = await t.kiln.logs.query('flood');
}, 120_000);
afterAll(() => t?.close());

describe('a log flood', () => {
  it('keeps the host disk within the store bound', async () => {
    const used = await t.kiln.logs.diskUsage('flood');
    expect(used).toBeLessThanOrEqual(t.kiln.logs.boundBytes + 64 * 1024);
    expect(used).toBeLessThan((FLOOD_MIB * 1024 * 1024) / 8);
  });

  it('drops the excess and says how much in the log', () => {
    const reports = records.filter((r) =>
      /lines \(\d+ bytes\) dropped: over the log rate limit/.test(r.line),
    );
    expect(reports.length).toBeGreaterThan(0);
    const dropped = reports.reduce((n, r) => n + Number(/^\[kiln: (\d+) /.exec(r.line)?.[1]), 0);
    const kept = records.filter((r) => r.line.startsWith('xxxx')).length;
    // Every flood line is either kept or counted as dropped.
    expect(kept + dropped).toBe(FLOOD_MIB * 1024);
    expect(dropped).toBeGreaterThan(kept);
  });

  it('keeps what the function writes once the flood is over, attributed to its request', () => {
    const after = records.find((r) => r.line === 'after the flood');
    expect(after).toMatchObject({ function: 'flood', version: 1, stream: 'stdout' });
    expect(after?.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("does not grow the gateway's memory with the flood", () => {
    console.log(
      `flood of ${FLOOD_MIB} MiB read in ${floodMs.toFixed(0)} ms; gateway RSS grew ${(rssGrowth / 1048576).toFixed(1)} MiB`,
    );
    expect(rssGrowth).toBeLessThan(96 * 1024 * 1024);
  });
});
