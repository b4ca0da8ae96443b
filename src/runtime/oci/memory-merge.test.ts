import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ksmdOff, ksmFromEnv, mergingMemory } from './memory-merge.js';

describe('KILN_KSM', () => {
  it('is off unless set to 1, and refuses anything else', () => {
    expect(ksmFromEnv({})).toBe(false);
    expect(ksmFromEnv({ KILN_KSM: '0' })).toBe(false);
    expect(ksmFromEnv({ KILN_KSM: '1' })).toBe(true);
    expect(() => ksmFromEnv({ KILN_KSM: 'yes' })).toThrow(/KILN_KSM must be 1/);
  });

  it('runs the runtime through the prctl one-liner with its own argv intact', () => {
    const [program, args] = mergingMemory(['/usr/bin/crun', 'run', '--bundle', '/b', 'id']);
    expect(program).toBe('perl');
    expect(args.slice(2)).toEqual(['/usr/bin/crun', 'run', '--bundle', '/b', 'id']);
  });

  it('says why merging would do nothing: ksmd stopped, or no KSM in the kernel', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kiln-ksm-'));
    try {
      const run = path.join(dir, 'run');
      await writeFile(run, '1\n');
      expect(await ksmdOff(run)).toBeUndefined();
      await writeFile(run, '0\n');
      expect(await ksmdOff(run)).toMatch(/ksmd is not running .*echo 1 > \/sys\/kernel\/mm\/ksm\/run/);
      expect(await ksmdOff(path.join(dir, 'absent'))).toMatch(/no KSM/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
