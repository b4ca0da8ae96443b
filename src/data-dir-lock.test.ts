import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirLock } from './data-dir-lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-lock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The `pid starttime` line a live process would write (proc(5), /proc/<pid>/stat field 22). */
async function ownerLine(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
}

describe('DataDirLock', () => {
  it('is taken and released by its owner', async () => {
    const lock = await DataDirLock.acquire(dir);
    expect(await readFile(path.join(dir, 'gateway.pid'), 'utf8')).toBe(await ownerLine(process.pid));
    await lock.release();
    expect(existsSync(path.join(dir, 'gateway.pid'))).toBe(false);
  });

  it('refuses a data dir held by another live process: 409 data_dir_in_use naming its pid', async () => {
    const other = spawn('sleep', ['60']);
    try {
      await writeFile(path.join(dir, 'gateway.pid'), await ownerLine(other.pid!));
      await expect(DataDirLock.acquire(dir)).rejects.toMatchObject({
        code: 'data_dir_in_use',
        status: 409,
        message: expect.stringContaining(`pid ${other.pid}`),
      });
    } finally {
      other.kill();
    }
  });

  it('takes over from a process that is gone, and from a reused pid (another start time)', async () => {
    const gone = spawn('true');
    const exited = new Promise((r) => gone.once('exit', r));
    const pid = gone.pid!;
    const line = await ownerLine(pid).catch(() => `${pid} 1`);
    await exited;
    await writeFile(path.join(dir, 'gateway.pid'), line);
    await (await DataDirLock.acquire(dir)).release();

    const live = spawn('sleep', ['60']);
    try {
      await writeFile(path.join(dir, 'gateway.pid'), `${live.pid} 1`);
      const lock = await DataDirLock.acquire(dir);
      expect(await readFile(path.join(dir, 'gateway.pid'), 'utf8')).toBe(await ownerLine(process.pid));
      await lock.release();
    } finally {
      live.kill();
    }
  });

  it('does not remove a pid file that another owner wrote after it', async () => {
    const lock = await DataDirLock.acquire(dir);
    await writeFile(path.join(dir, 'gateway.pid'), '1 1');
    await lock.release();
    expect(await readFile(path.join(dir, 'gateway.pid'), 'utf8')).toBe('1 1');
  });
});
