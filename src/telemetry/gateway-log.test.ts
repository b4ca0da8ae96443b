import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GatewayLog, LineBatch, logLevelFromEnv } from './gateway-log.js';

describe('GatewayLog', () => {
  it('writes one JSON object per line with time, level, msg and the named fields only', () => {
    const lines: string[] = [];
    const log = new GatewayLog('info', (line) => lines.push(line));
    const fields = { requestId: 'r1', function: 'hello', status: 200, durationMs: 1.5, start: 'warm' };
    // A caller that passes more than LogFields (a header, a token) gets only the named fields out.
    log.info('invoke', { ...fields, authorization: 'Bearer secret' } as typeof fields);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 'info', msg: 'invoke', ...fields });
    expect(Number.isNaN(Date.parse(record.time as string))).toBe(false);
    expect(lines[0]).not.toContain('secret');
  });

  it('drops lines below KILN_LOG_LEVEL and refuses an unknown level', () => {
    const lines: string[] = [];
    const log = new GatewayLog(logLevelFromEnv('warn'), (line) => lines.push(line));
    log.info('invoke');
    log.debug('detail');
    log.warn('slow');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['slow']);
    expect(logLevelFromEnv('')).toBe('info');
    expect(() => logLevelFromEnv('loud')).toThrow(/KILN_LOG_LEVEL/);
  });

  it('writes the lines of one event-loop turn together, in order, in the next turn', async () => {
    const out = new PassThrough();
    const writes: string[] = [];
    out.on('data', (chunk: Buffer) => writes.push(chunk.toString()));
    const batch = new LineBatch(out);
    const log = new GatewayLog('info', batch.add);
    log.info('one');
    log.info('two');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    log.info('three');
    await new Promise((resolve) => setImmediate(resolve));
    expect(
      writes.map((w) =>
        w
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l).msg),
      ),
    ).toEqual([['one', 'two'], ['three']]);
  });
});
