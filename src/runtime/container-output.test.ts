import { describe, expect, it } from 'vitest';
import { ContainerOutput, type OutputSink } from './container-output.js';

describe('ContainerOutput', () => {
  it('keeps the last 8 KiB for error messages and hands everything to a sink attached later', async () => {
    const output = new ContainerOutput();
    output.write('stdout', Buffer.from('before any sink\n'));
    const seen: string[] = [];
    const sink: OutputSink = {
      write: (stream, chunk) => seen.push(`${stream}:${chunk}`),
      request: (id, event) => seen.push(`${event}:${id}`),
      end: () => seen.push('end'),
    };
    output.attach(sink);
    output.request('r1', 'start');
    output.write('stderr', Buffer.from('oops\n'));
    output.close();
    output.close();
    expect(seen).toEqual(['start:r1', 'stderr:oops\n', 'end']);
    await output.closed;
    expect(output.tail()).toBe('before any sink\noops\n');
    for (let i = 0; i < 100; i++) output.write('stdout', Buffer.from(`${'x'.repeat(200)}\n`));
    expect(output.tail().length).toBeLessThanOrEqual(8 * 1024 + 201);
    expect(output.tail(10)).toBe(`${'x'.repeat(9)}\n`);
  });
});
