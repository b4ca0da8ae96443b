import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeContainer, fnVersion } from '../../test/fakes/fake-launcher.js';
import { IllegalTransition, Instance } from './instance.js';

let dir: string;
let container: FakeContainer;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-instance-'));
  container = await FakeContainer.start(dir, { version: 1 });
});
afterEach(async () => {
  await container.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('Instance states', () => {
  it('lives starting → idle ⇄ busy, idle ⇄ frozen → busy, → draining → gone', async () => {
    const instance = new Instance(container, fnVersion('life', 1), 'cold');
    const path: string[] = [instance.state];
    for (const next of ['idle', 'busy', 'idle', 'frozen', 'busy', 'draining', 'gone'] as const) {
      instance.moveTo(next);
      path.push(instance.state);
    }
    expect(path).toEqual(['starting', 'idle', 'busy', 'idle', 'frozen', 'busy', 'draining', 'gone']);
  });

  it('throws on a move an instance never makes, and leaves the state as it was', async () => {
    const instance = new Instance(container, fnVersion('strict', 1), 'cold');
    expect(() => instance.moveTo('busy')).toThrow(IllegalTransition);
    instance.moveTo('idle');
    instance.moveTo('busy');
    expect(() => instance.moveTo('frozen')).toThrow(/busy → frozen/);
    instance.moveTo('draining');
    expect(() => instance.moveTo('idle')).toThrow(IllegalTransition);
    expect(() => instance.moveTo('busy')).toThrow(IllegalTransition);
    expect(instance.state).toBe('draining');
    await instance.destroy();
    expect(instance.state).toBe('gone');
    for (const next of ['starting', 'idle', 'busy', 'frozen', 'draining'] as const) {
      expect(() => instance.moveTo(next)).toThrow(IllegalTransition);
    }
  });
});
