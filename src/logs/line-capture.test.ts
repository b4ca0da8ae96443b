import { describe, expect, it } from 'vitest';
import { type CapturedLine, LineCapture } from './line-capture.js';

function capture(options: ConstructorParameters<typeof LineCapture>[1] = {}) {
  const out: CapturedLine[] = [];
  const c = new LineCapture((l) => out.push(l), options);
  return { c, out, lines: () => out.filter((l) => l.kind === 'line').map((l) => l.text) };
}

describe('LineCapture', () => {
  it('splits chunks into lines, joining lines split across chunks', () => {
    const { c, lines } = capture();
    c.write('one\ntw');
    c.write('o\r\nthree');
    expect(lines()).toEqual(['one', 'two']);
    c.end();
    expect(lines()).toEqual(['one', 'two', 'three']);
  });

  it('cuts a line past the cap and marks it', () => {
    const { c, lines } = capture({ maxLineBytes: 10 });
    c.write('x'.repeat(25));
    c.write(`${'y'.repeat(30)}\nshort\n`);
    expect(lines()).toEqual(['xxxxxxxxxx [kiln: line truncated]', 'short']);
  });

  it('drops a flood past the rate and says how much once the rate allows again', () => {
    let now = 0;
    const { c, out, lines } = capture({ bytesPerSecond: 100, burstBytes: 100, now: () => now });
    for (let i = 0; i < 50; i++) c.write('123456789\n'); // 10 bytes a line: 10 fit the burst
    expect(lines()).toHaveLength(10);
    now += 1000; // 100 more bytes of allowance
    c.write('later\n');
    expect(out.at(-2)).toEqual({ kind: 'dropped', lines: 40, bytes: 400 });
    expect(lines().at(-1)).toBe('later');
  });
});

describe('LineCapture and utf8', () => {
  it('keeps a character whole when a read splits it', () => {
    const { c, lines } = capture();
    const bytes = Buffer.from('héllo wörld\n');
    c.write(bytes.subarray(0, 2));
    c.write(bytes.subarray(2, 9));
    c.write(bytes.subarray(9));
    expect(lines()).toEqual(['héllo wörld']);
  });
});

describe('LineCapture under a flood that never stops', () => {
  it('reports what it dropped once a second', () => {
    let now = 0;
    const { c, out } = capture({ bytesPerSecond: 10, burstBytes: 10, now: () => now });
    for (let second = 0; second < 3; second++) {
      for (let i = 0; i < 100; i++) c.write('0123456789abcdefghij\n');
      now += 1000;
    }
    const reports = out.filter((l) => l.kind === 'dropped');
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports.reduce((n, r) => n + (r.kind === 'dropped' ? r.lines : 0), 0)).toBeLessThanOrEqual(300);
  });
});
