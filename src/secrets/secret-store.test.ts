import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SECRET_BYTES, SecretStore, validateSecretName } from './secret-store.js';

let dir: string;
let store: SecretStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-secrets-'));
  store = new SecretStore(path.join(dir, 'secrets'));
  await store.init();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('SecretStore', () => {
  it('keeps each value in a 0600 file of a 0700 dir, and lists names and sizes only', async () => {
    const info = await store.create('db-password', Buffer.from('hunter2'));
    expect(info).toMatchObject({ name: 'db-password', size: 7 });
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(store.dir, 'db-password'))).mode & 0o777).toBe(0o600);
    expect((await store.read('db-password')).toString()).toBe('hunter2');
    expect(JSON.stringify(await store.list())).not.toContain('hunter2');
    expect(await readdir(store.dir)).toEqual(['db-password']);
  });

  it('refuses a second create of a name, empty and oversized values, and bad names', async () => {
    await store.create('a', Buffer.from('1'));
    await expect(store.create('a', Buffer.from('2'))).rejects.toMatchObject({
      code: 'secret_exists',
      status: 409,
    });
    await expect(store.create('b', Buffer.alloc(0))).rejects.toMatchObject({ code: 'empty_secret' });
    await expect(store.create('c', Buffer.alloc(MAX_SECRET_BYTES + 1))).rejects.toMatchObject({
      code: 'secret_too_large',
    });
    for (const bad of ['', '../x', '.hidden', 'a/b', 'x'.repeat(64), 7]) {
      expect(() => validateSecretName(bad)).toThrow(/invalid/);
    }
  });

  it('removes a secret; a missing one is a 404', async () => {
    await store.create('gone', Buffer.from('v'));
    await store.remove('gone');
    expect(await store.has('gone')).toBe(false);
    await expect(store.remove('gone')).rejects.toMatchObject({ code: 'secret_not_found', status: 404 });
    await expect(store.read('../etc/passwd')).rejects.toMatchObject({ code: 'invalid_secret_name' });
  });
});
