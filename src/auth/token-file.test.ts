import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateToken, readTokenFile, readTokenFileIfReadable } from './token-file.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-token-'));
  file = path.join(dir, 'control-token');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('the control-token file', () => {
  it('is made once with mode 0600 and 256 random bits, then reused', async () => {
    const token = await loadOrCreateToken(file);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateToken(file)).toBe(token);
    expect(readTokenFileIfReadable(file)).toBe(token);
    // No temp file is left beside it.
    expect(await readdir(dir)).toEqual(['control-token']);
  });

  it('ends with one token when many starts race on a fresh data dir', async () => {
    const tokens = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateToken(file)));
    expect(new Set(tokens).size).toBe(1);
    expect((await readFile(file, 'utf8')).trim()).toBe(tokens[0]);
    expect(await readdir(dir)).toEqual(['control-token']);
  });

  it('two data dirs get two different tokens', async () => {
    const other = path.join(dir, 'other-token');
    expect(await loadOrCreateToken(file)).not.toBe(await loadOrCreateToken(other));
  });

  it('refuses a token file others can read, a link, and one that holds no token', async () => {
    await loadOrCreateToken(file);
    await chmod(file, 0o644);
    await expect(readTokenFile(file)).rejects.toMatchObject({ code: 'insecure_token_file' });
    await chmod(file, 0o600);
    const linked = path.join(dir, 'linked');
    await symlink(file, linked);
    await expect(readTokenFile(linked)).rejects.toMatchObject({ code: 'invalid_token_file' });
    const junk = path.join(dir, 'junk');
    await writeFile(junk, 'short\n', { mode: 0o600 });
    await expect(readTokenFile(junk)).rejects.toMatchObject({ code: 'invalid_token_file' });
    expect(readTokenFileIfReadable(junk)).toBeUndefined();
    expect(readTokenFileIfReadable(path.join(dir, 'absent'))).toBeUndefined();
  });
});
