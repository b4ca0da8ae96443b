import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InstanceLog } from './instance-log.js';
import { LogStore } from './log-store.js';

let dir: string;
let store: LogStore;
let now: number;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-instance-log-'));
  store = new LogStore(dir);
  now = Date.parse('2024-03-12T12:00:00Z');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function log(options = {}) {
  return new InstanceLog(store, { function: 'fn', version: 3, instance: 'k1' }, options, () => now);
}
const ID = '11111111-2222-3333-4444-555555555555';
const lines = async () => (await store.query('fn')).map((r) => [r.stream, r.requestId, r.line]);

describe('InstanceLog', () => {
  it('writes records of the instance, the request id from the line first', async () => {
    const l = log();
    l.request('r-in-flight', 'start');
    l.write('stdout', Buffer.from(`2024-03-12T12:00:00.000Z\t${ID}\tINFO\tfrom the shim\n`));
    l.write('stderr', Buffer.from('plain\n'));
    expect(await lines()).toEqual([
      ['stdout', ID, `2024-03-12T12:00:00.000Z\t${ID}\tINFO\tfrom the shim`],
      ['stderr', 'r-in-flight', 'plain'],
    ]);
    expect((await store.query('fn'))[0]).toMatchObject({ function: 'fn', version: 3, instance: 'k1' });
  });

  it('attributes a plain line to no request when two are in flight, or none ended just now', async () => {
    const l = log();
    l.request('a', 'start');
    l.request('b', 'start');
    l.write('stdout', Buffer.from('two in flight\n'));
    l.request('a', 'end');
    l.request('b', 'end');
    l.write('stdout', Buffer.from('b just ended\n'));
    now += 1000;
    l.write('stdout', Buffer.from('long after\n'));
    expect(await lines()).toEqual([
      ['stdout', undefined, 'two in flight'],
      ['stdout', 'b', 'b just ended'],
      ['stdout', undefined, 'long after'],
    ]);
  });

  it('drops a flood past the rate and records how much, on the stream it came from', async () => {
    const l = log({ bytesPerSecond: 100, burstBytes: 100 });
    for (let i = 0; i < 30; i++) l.write('stderr', Buffer.from('123456789\n'));
    now += 1000;
    l.write('stderr', Buffer.from('calm\n'));
    l.end();
    const records = await lines();
    expect(records.filter(([, , line]) => line === '123456789')).toHaveLength(10);
    expect(records.at(-2)).toEqual([
      'stderr',
      undefined,
      expect.stringMatching(/^\[kiln: 20 stderr lines \(200 bytes\) dropped/),
    ]);
    expect(records.at(-1)).toEqual(['stderr', undefined, 'calm']);
  });

  it('keeps nothing once its function was removed', async () => {
    const l = log();
    l.write('stdout', Buffer.from('before\n'));
    await store.remove('fn');
    l.write('stdout', Buffer.from('after the removal\n'));
    expect(await lines()).toEqual([]);
  });
});
