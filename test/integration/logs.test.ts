import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/logs/log-store.js';
import { deployDir, FIXTURES, ROOT, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Function logs (issue 12): every instance's stdout and stderr are captured by the gateway
 * into a store that outlives the instance and the gateway, queried by request id, tail,
 * since, and followed (`kiln logs -f`).
 */
let t: TestGateway;

async function invoke(fn: string, p: string): Promise<{ requestId: string; instance: string }> {
  const res = await fetch(`${t.url}/fn/${fn}${p}`);
  expect(res.status).toBe(200);
  await res.text();
  return { requestId: res.headers.get('x-kiln-request-id')!, instance: res.headers.get('x-kiln-instance')! };
}

async function logs(
  fn: string,
  query: string,
): Promise<{ status: number; records: LogRecord[]; body: string }> {
  const res = await fetch(`${t.url}/functions/${fn}/logs?${query}`);
  const body = await res.text();
  const records = res.ok
    ? body
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogRecord)
    : [];
  return { status: res.status, records, body };
}

beforeAll(async () => {
  t = await startTestGateway();
  expect(
    (await deployDir(t.url, path.join(FIXTURES, 'logger'), { name: 'logger', runtime: 'node' })).status,
  ).toBe(201);
});
afterAll(() => t?.close());

describe('function logs', () => {
  let first: { requestId: string; instance: string };

  it("finds a request's lines by its request id after its instance is gone", async () => {
    first = await invoke('logger', '/?mark=A');
    expect((await fetch(`${t.url}/instances/${first.instance}`, { method: 'DELETE' })).status).toBe(200);
    await expect.poll(async () => (await t.kiln.pool.list()).length).toBe(0);
    const { records } = await logs('logger', `request=${first.requestId}`);
    const lines = records.map((r) => [r.stream, r.line.replace(/^\S+\t\S+\tINFO\t/, '')]);
    expect(lines).toEqual(
      expect.arrayContaining([
        ['stdout', 'handled A'],
        ['stderr', expect.stringContaining('to stderr A')],
        ['stdout', 'raw A'],
      ]),
    );
    for (const r of records) {
      expect(r).toMatchObject({
        function: 'logger',
        version: 1,
        instance: first.instance,
        requestId: first.requestId,
      });
      expect(Date.parse(r.time)).toBeGreaterThan(Date.now() - 60_000);
    }
    // The shim's own line carries the id; so does the raw one, from the one request in flight.
    expect(records.find((r) => r.line.endsWith('handled A'))?.line).toContain(`\t${first.requestId}\tINFO\t`);
  });

  it('attributes a python print (no request id in the line) to the request in flight', async () => {
    expect(
      (await deployDir(t.url, path.join(FIXTURES, 'hostile'), { name: 'printer', runtime: 'python' })).status,
    ).toBe(201);
    const { requestId } = await invoke('printer', '/print?text=printed-by-python');
    const { records } = await logs('printer', `request=${requestId}`);
    expect(records.map((r) => r.line)).toEqual(['printed-by-python']);
  });

  it('answers tail and since, and refuses a since it cannot read', async () => {
    await invoke('logger', '/?mark=B');
    const { records: last } = await logs('logger', 'tail=1');
    expect(last).toHaveLength(1);
    expect(last[0]?.line).toMatch(/B$/);
    expect((await logs('logger', 'since=1h')).records.length).toBeGreaterThanOrEqual(6);
    expect((await logs('logger', `since=${Date.now() + 60_000}`)).records).toEqual([]);
    const bad = await logs('logger', 'since=yesterday');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'invalid_since' } });
    expect((await logs('nobody', '')).status).toBe(404);
  });

  it('kiln logs -f prints a line written after it started', async () => {
    const cli: ChildProcess = spawn(
      process.execPath,
      [path.join(ROOT, 'dist/cli/main.js'), 'logs', '-f', 'logger'],
      {
        env: { PATH: process.env.PATH, KILN_URL: t.url },
      },
    );
    let out = '';
    cli.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      // The backlog first: the follow is running once it is printed.
      await expect.poll(() => out, { timeout: 10_000 }).toContain('raw B');
      await invoke('logger', '/?mark=C');
      await expect.poll(() => out, { timeout: 10_000 }).toContain('raw C');
      expect(out).toMatch(/\thandled C\n/);
      expect(t.kiln.logs.followers('logger')).toBe(1);
    } finally {
      cli.kill();
    }
    // The gateway noticed the client go and stopped following.
    await expect.poll(() => t.kiln.logs.followers('logger')).toBe(0);
  });

  it('keeps the logs across a gateway restart, and removes them with the function', async () => {
    const dataDir = t.dataDir;
    await t.close({ keepData: true });
    t = await startTestGateway({ dataDir });
    const { records } = await logs('logger', `request=${first.requestId}`);
    expect(records.map((r) => r.line)).toContain('raw A');
    expect((await fetch(`${t.url}/functions/logger`, { method: 'DELETE' })).status).toBe(200);
    expect(existsSync(path.join(t.kiln.data.logs, 'logger'))).toBe(false);
    expect((await logs('logger', '')).status).toBe(404);
  });
});
