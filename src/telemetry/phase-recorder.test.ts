import { describe, expect, it } from 'vitest';
import { PhaseRecorder } from './phase-recorder.js';

describe('PhaseRecorder', () => {
  it('writes Server-Timing from the phases that are not groups, in the order recorded', () => {
    const phases = new PhaseRecorder();
    phases.record('acquire', 10, 40, { group: true });
    phases.record('queue', 10, 10.5, { parent: 'acquire' });
    phases.record('mount', 10.5, 16.75, { parent: 'acquire' });
    phases.record('fn', 40, 42);
    expect(phases.serverTiming()).toBe('queue;dur=0.50, mount;dur=6.25, fn;dur=2.00');
    expect(phases.durations()).toEqual({ queue: 0.5, mount: 6.25, fn: 2 });
  });

  it('lays phases known by their durations back to back, ending where it is told', () => {
    const phases = new PhaseRecorder();
    phases.recordSequence({ mount: 2, runtime: 3, init: 5 }, 100, { parent: 'acquire' });
    expect(phases.phases.map((p) => [p.name, p.start, p.end, p.parent])).toEqual([
      ['mount', 90, 92, 'acquire'],
      ['runtime', 92, 95, 'acquire'],
      ['init', 95, 100, 'acquire'],
    ]);
  });

  it('records a phase that failed, and ends a begun phase once', async () => {
    const phases = new PhaseRecorder();
    await expect(
      phases.time('build', async () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    const open = phases.begin('commit');
    open.end();
    open.end();
    expect(phases.phases.map((p) => p.name)).toEqual(['build', 'commit']);
  });
});
