import { describe, expect, it } from 'vitest';
import { IsoTime } from './iso-time.js';

describe('IsoTime', () => {
  it("formats as Date's toISOString, across seconds, days and years, in any order", () => {
    const clock = new IsoTime();
    const times = [
      Date.UTC(2026, 11, 7, 18, 31, 3, 0),
      Date.UTC(2026, 11, 7, 18, 31, 3, 7),
      Date.UTC(2026, 11, 7, 18, 31, 3, 45),
      Date.UTC(2026, 11, 7, 18, 31, 3, 999),
      Date.UTC(2026, 11, 7, 18, 31, 4, 120),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1, 0, 0, 0, 1),
      Date.UTC(2026, 11, 7, 18, 31, 3, 500),
      0,
      Date.now(),
    ];
    for (const ms of times) expect(clock.format(ms)).toBe(new Date(ms).toISOString());
  });

  it('reads the clock when given no time', () => {
    const before = Date.now();
    const text = new IsoTime().format();
    const at = Date.parse(text);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});
