import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreLeases } from './store-leases.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-leases-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Resolves once `events` holds `event` (condition wait, no timing). */
async function seen(events: string[], event: string): Promise<void> {
  await expect.poll(() => events.includes(event), { timeout: 5_000, interval: 5 }).toBe(true);
}

describe('StoreLeases', () => {
  it('a prune sweeps only after the writers holding leases are done', async () => {
    const leases = new StoreLeases(dir);
    const events: string[] = [];
    const writing = gate();
    const writer = leases.hold(async () => {
      events.push('write start');
      await writing.opened;
      events.push('write end');
    });
    await seen(events, 'write start');
    const prune = leases.exclusive(async () => {
      events.push('sweep');
    });
    writing.open();
    await Promise.all([writer, prune]);
    expect(events).toEqual(['write start', 'write end', 'sweep']);
  });

  it('a writer that starts during a prune waits for it', async () => {
    const leases = new StoreLeases(dir);
    const events: string[] = [];
    const sweeping = gate();
    const prune = leases.exclusive(async () => {
      events.push('sweep start');
      await sweeping.opened;
      events.push('sweep end');
    });
    await seen(events, 'sweep start');
    const writer = leases.hold(async () => {
      events.push('write');
    });
    // The writer is parked on the lock file; let the sweep go on.
    sweeping.open();
    await Promise.all([writer, prune]);
    expect(events).toEqual(['sweep start', 'sweep end', 'write']);
  });

  it('a lease taken inside a lease does not wait for a prune that waits for the outer one', async () => {
    const leases = new StoreLeases(dir);
    const events: string[] = [];
    const inner = gate();
    const writer = leases.hold(async () => {
      events.push('outer');
      await inner.opened;
      await leases.hold(async () => {
        events.push('inner');
      });
    });
    await seen(events, 'outer');
    const prune = leases.exclusive(async () => {
      events.push('sweep');
    });
    inner.open();
    await Promise.all([writer, prune]);
    expect(events).toEqual(['outer', 'inner', 'sweep']);
  });

  it("a dead writer's lease does not hold a prune up, and is removed", async () => {
    const leases = new StoreLeases(dir);
    await mkdir(path.join(dir, 'leases'));
    await writeFile(path.join(dir, 'leases', 'left'), '99999999 1');
    expect(await leases.exclusive(async () => 'swept')).toBe('swept');
    expect(await readdir(path.join(dir, 'leases'))).toEqual([]);
  });

  it('a second prune at once is refused, and the store is free again after both', async () => {
    const leases = new StoreLeases(dir);
    const sweeping = gate();
    const events: string[] = [];
    const first = leases.exclusive(async () => {
      events.push('first');
      await sweeping.opened;
    });
    await seen(events, 'first');
    await expect(leases.exclusive(async () => undefined)).rejects.toMatchObject({
      code: 'prune_in_progress',
      status: 409,
    });
    sweeping.open();
    await first;
    expect(await leases.hold(async () => 'written')).toBe('written');
  });

  it('a prune that waits too long for writers gives up with store_busy and lets them on', async () => {
    const leases = new StoreLeases(dir);
    const writing = gate();
    const events: string[] = [];
    const writer = leases.hold(async () => {
      events.push('write');
      await writing.opened;
    });
    await seen(events, 'write');
    await expect(leases.exclusive(async () => undefined, 0)).rejects.toMatchObject({ code: 'store_busy' });
    writing.open();
    await writer;
    expect(await leases.hold(async () => 'next')).toBe('next');
  });
});
