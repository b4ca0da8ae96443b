import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
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

  it('writes the lines logged within the flush interval together, in order, and at once past the size cap', () => {
    vi.useFakeTimers();
    try {
      const out = new PassThrough();
      const writes: string[] = [];
      out.on('data', (chunk: Buffer) => writes.push(chunk.toString()));
      const batch = new LineBatch(out, 50);
      const log = new GatewayLog('info', batch.add);
      const msgs = () =>
        writes.map((w) =>
          w
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l).msg),
        );
      log.info('one');
      vi.advanceTimersByTime(10);
      log.info('two');
      vi.advanceTimersByTime(39);
      expect(writes).toEqual([]);
      vi.advanceTimersByTime(1);
      log.info('three');
      vi.advanceTimersByTime(50);
      expect(msgs()).toEqual([['one', 'two'], ['three']]);
      // 64 KiB pending are written without waiting for the timer.
      log.info('x'.repeat(70 * 1024));
      expect(msgs()).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
