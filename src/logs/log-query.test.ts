import { describe, expect, it } from 'vitest';
import { parseLogQuery, parseSince } from './log-query.js';

const NOW = Date.parse('2024-03-12T12:00:00Z');

describe('parseSince', () => {
  it('takes epoch ms, ISO times and durations back from now', () => {
    expect(parseSince('1700000000000', NOW)).toBe(1_700_000_000_000);
    expect(parseSince('2024-03-12T11:00:00Z', NOW)).toBe(NOW - 3_600_000);
    expect(parseSince('2024-03-12', NOW)).toBe(Date.parse('2024-03-12'));
    expect(parseSince('10m', NOW)).toBe(NOW - 600_000);
    expect(parseSince('1h30m', NOW)).toBe(NOW - 5_400_000);
    expect(parseSince('45s', NOW)).toBe(NOW - 45_000);
    expect(parseSince('2d', NOW)).toBe(NOW - 172_800_000);
    expect(parseSince('250ms', NOW)).toBe(NOW - 250);
  });

  it('refuses anything else with a 400', () => {
    for (const bad of ['yesterday', '10x', 'm10', '', '-5m', '12:00'])
      expect(() => parseSince(bad, NOW)).toThrow(
        expect.objectContaining({ code: 'invalid_since', status: 400 }),
      );
  });
});

describe('parseLogQuery', () => {
  it('reads since, tail and request', () => {
    expect(parseLogQuery({ since: '10m', tail: '5', request: 'r1' }, NOW)).toEqual({
      since: NOW - 600_000,
      tail: 5,
      requestId: 'r1',
    });
    expect(parseLogQuery({}, NOW)).toEqual({});
  });

  it('refuses a bad tail', () => {
    for (const tail of ['-1', 'ten', '1.5', '9999999'])
      expect(() => parseLogQuery({ tail }, NOW)).toThrow(expect.objectContaining({ code: 'invalid_tail' }));
  });
});
