import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LogRecord, LogStore } from './log-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-logs-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function record(line: string, extra: Partial<LogRecord> = {}): LogRecord {
  return {
    time: new Date().toISOString(),
    function: 'hello',
    version: 1,
    instance: 'k1',
    stream: 'stdout',
    line,
    ...extra,
  };
}

describe('LogStore', () => {
  it('keeps lines after the store is reopened (a gateway restart)', async () => {
    const store = new LogStore(dir);
    store.append(record('one', { requestId: 'r1' }));
    store.append(record('two', { requestId: 'r2' }));
    await store.flush();
    const reopened = new LogStore(dir);
    expect((await reopened.query('hello')).map((r) => r.line)).toEqual(['one', 'two']);
    reopened.append(record('three'));
    expect((await reopened.query('hello')).map((r) => r.line)).toEqual(['one', 'two', 'three']);
  });

  it('finds a request by its id, the last N lines, and lines since a time', async () => {
    const store = new LogStore(dir);
    store.append(record('old', { time: '2020-01-01T00:00:00.000Z' }));
    for (let i = 0; i < 5; i++)
      store.append(record(`line ${i}`, { requestId: i === 3 ? 'wanted' : 'other' }));
    expect((await store.query('hello', { requestId: 'wanted' })).map((r) => r.line)).toEqual(['line 3']);
    expect((await store.query('hello', { tail: 2 })).map((r) => r.line)).toEqual(['line 3', 'line 4']);
    expect(await store.query('hello', { since: Date.parse('2021-01-01') })).toHaveLength(5);
    expect(await store.query('nobody')).toEqual([]);
  });

  it('bounds each function: the oldest segment goes when a new one starts', async () => {
    const store = new LogStore(dir, { segmentBytes: 1000, segmentsPerFunction: 3 });
    for (let i = 0; i < 200; i++)
      store.append(record(`line ${String(i).padStart(4, '0')} ${'x'.repeat(50)}`));
    await store.flush();
    const segments = await readdir(path.join(dir, 'hello'));
    expect(segments.length).toBe(3);
    const kept = await store.query('hello');
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(200);
    expect(kept.at(-1)?.line).toMatch(/^line 0199/);
    expect(await store.diskUsage()).toBeLessThanOrEqual(3 * (1000 + 200));
  });

  it('drops lines instead of holding unbounded memory when writing falls behind', async () => {
    const store = new LogStore(dir, { maxPendingBytes: 2000 });
    for (let i = 0; i < 500; i++) store.append(record(`line ${i}`));
    expect(store.dropped('hello')).toBeGreaterThan(0);
    await store.flush();
    expect((await store.query('hello')).length).toBe(500 - store.dropped('hello'));
  });

  it('hands new lines to followers that match, until they unsubscribe', async () => {
    const store = new LogStore(dir);
    const seen: string[] = [];
    const follow = await store.follow('hello', { requestId: 'r' }, (r) => seen.push(r.line));
    follow.start();
    store.append(record('a', { requestId: 'r' }));
    store.append(record('b', { requestId: 'x' }));
    store.append(record('c', { requestId: 'r', function: 'other' }));
    await store.flush();
    follow.stop();
    store.append(record('d', { requestId: 'r' }));
    await store.flush();
    expect(seen).toEqual(['a']);
  });

  it('gives a follower every record once: the backlog, then what came while it read the backlog', async () => {
    const store = new LogStore(dir, { segmentBytes: 2000, segmentsPerFunction: 50 });
    for (let i = 0; i < 100; i++) store.append(record(`before ${i}`));
    const live: string[] = [];
    const follow = await store.follow('hello', {}, (r) => live.push(r.line));
    for (let i = 0; i < 50; i++) store.append(record(`during ${i}`));
    const backlog: string[] = [];
    for await (const r of follow.backlog) backlog.push(r.line);
    follow.start();
    for (let i = 0; i < 50; i++) store.append(record(`after ${i}`));
    await store.flush();
    follow.stop();
    const all = [...backlog, ...live];
    expect(all).toEqual([
      ...Array.from({ length: 100 }, (_, i) => `before ${i}`),
      ...Array.from({ length: 50 }, (_, i) => `during ${i}`),
      ...Array.from({ length: 50 }, (_, i) => `after ${i}`),
    ]);
  });

  it('follows a log that was written by an earlier gateway, and tails it', async () => {
    const first = new LogStore(dir);
    for (let i = 0; i < 10; i++) first.append(record(`old ${i}`));
    await first.flush();
    const store = new LogStore(dir);
    const live: string[] = [];
    const follow = await store.follow('hello', { tail: 3 }, (r) => live.push(r.line));
    const backlog: string[] = [];
    for await (const r of follow.backlog) backlog.push(r.line);
    follow.start();
    store.append(record('new'));
    await store.flush();
    follow.stop();
    expect(backlog).toEqual(['old 7', 'old 8', 'old 9']);
    expect(live).toEqual(['new']);
  });

  it('forgets a removed function, and drops lines its old instances write after that', async () => {
    const store = new LogStore(dir);
    const generation = store.generation('hello');
    store.append(record('before'), generation);
    await store.remove('hello');
    store.append(record('late line of a draining instance'), generation);
    store.append(record('the new function'));
    expect((await store.query('hello')).map((r) => r.line)).toEqual(['the new function']);
  });

  it('refuses a name that is not a function name (it becomes a directory)', () => {
    const store = new LogStore(dir);
    expect(() => store.append(record('x', { function: '../etc' }))).toThrow(/not a function name/);
  });

  it('skips a line torn by a crash', async () => {
    const store = new LogStore(dir);
    store.append(record('whole'));
    await store.flush();
    const { appendFile } = await import('node:fs/promises');
    await appendFile(path.join(dir, 'hello', '000000000000.jsonl'), '{"time":"2026-');
    expect((await new LogStore(dir).query('hello')).map((r) => r.line)).toEqual(['whole']);
  });
});
