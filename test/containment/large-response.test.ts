import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../harness.js';
import { GatewayProcess } from './gateway-process.js';

/**
 * Issue 8, attempt 4: a 1 GiB response took the gateway from 86 MB to 2.1 GB RSS (bodies
 * were buffered whole). Now it streams through with backpressure both ways, so the
 * gateway's peak RSS (VmHWM) stays within the bound docs/SECURITY.md states.
 */
const MIB = 1024;
/** docs/SECURITY.md, "Bounded gateway memory". */
const RSS_BOUND_BYTES = 64 * 1024 * 1024;

let gateway: GatewayProcess;
beforeAll(async () => {
  gateway = await GatewayProcess.start();
  const deployed = await gateway.deploy(path.join(FIXTURES, 'http-client'), { name: 'big', runtime: 'node' });
  expect(deployed.status).toBe(201);
}, 120_000);
afterAll(() => gateway?.remove());

async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

describe('a 1 GiB response', () => {
  it("streams through without growing the gateway's memory past its bound", async () => {
    const pid = gateway.pid;
    if (pid === undefined) throw new Error('no gateway process');
    // Warm the path first, so what is measured is the stream, not first-use allocations.
    await read(`${gateway.url}/fn/big/big?mib=4`);
    const before = await memory(pid);
    const received = await read(`${gateway.url}/fn/big/big?mib=${MIB}`);
    const after = await memory(pid);
    expect(received).toBe(MIB * 1024 * 1024);
    console.log(
      `1 GiB through the gateway: RSS ${(before.rss / 1048576).toFixed(1)} MiB before, peak ${(after.peak / 1048576).toFixed(1)} MiB (grew ${((after.peak - before.rss) / 1048576).toFixed(1)} MiB)`,
    );
    expect(after.peak - before.rss).toBeLessThan(RSS_BOUND_BYTES);
  }, 300_000);
});

describe("a 96 MiB result through Lambda's Invoke API (buffered, not streamed)", () => {
  it('is cut at the 6 MB payload cap: Function.ResponseSizeTooLarge, bounded gateway memory, the instance serves on', async () => {
    const pid = gateway.pid;
    if (pid === undefined) throw new Error('no gateway process');
    const dir = await mkdtemp(path.join(tmpdir(), 'kiln-big-result-'));
    try {
      await writeFile(
        path.join(dir, 'index.mjs'),
        "export const handler = async (event) => 'x'.repeat(event.mib * 1048576);\n",
      );
      const deployed = await gateway.deploy(dir, { name: 'bigresult', runtime: 'node', memoryMb: '1024' });
      expect(deployed.status, deployed.text).toBe(201);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const invoke = (mib: number) =>
      fetch(`${gateway.url}/2015-03-31/functions/bigresult/invocations`, {
        method: 'POST',
        headers: gateway.headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ mib }),
      });
    const first = await invoke(1);
    expect(first.status).toBe(200);
    const instance = first.headers.get('x-kiln-instance');
    expect(instance).toBeTruthy();
    const before = await memory(pid);
    const res = await invoke(96);
    const after = await memory(pid);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await res.json()).toMatchObject({ errorType: 'Function.ResponseSizeTooLarge' });
    console.log(
      `96 MiB result through the Invoke API: gateway peak grew ${((after.peak - before.rss) / 1048576).toFixed(1)} MiB`,
    );
    expect(after.peak - before.rss).toBeLessThan(RSS_BOUND_BYTES);
    // The cut is the gateway's: the same instance answers the next invoke.
    const next = await invoke(1);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-amz-function-error')).toBeNull();
    expect(((await next.json()) as string).length).toBe(1048576);
    expect(next.headers.get('x-kiln-instance')).toBe(instance);
  }, 300_000);
});

/** GET `url`, count the body's bytes and drop them. */
function read(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
