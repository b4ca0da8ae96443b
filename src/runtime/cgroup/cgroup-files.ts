import { open, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { KilnError } from '../../errors.js';

/**
 * Bytes asked for per read. cgroupfs gives every file a size of 0, for which `readFile`
 * reads into a fresh 64 KiB buffer: a `GET /instances` reads several files per instance, and
 * at 1000 idle instances the gateway held 235 MiB of such buffers not yet collected (its
 * `arrayBuffers`; issue 9, density). The files Kiln reads are small (v1 `memory.stat`, the
 * largest, ~1.5 KiB); a longer one takes more reads. Under 4 KiB, so the buffer comes from
 * Node's shared pool.
 */
const READ_BYTES = 4000;

/** A cgroup file's content, trimmed; '' when it does not exist (the cgroup is gone). */
export async function readCgroupFile(file: string): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, READ_BYTES, null);
      if (bytesRead === 0) return Buffer.concat(chunks).toString('utf8').trim();
      chunks.push(buffer.subarray(0, bytesRead));
    }
  } catch {
    return '';
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export async function readCgroupNumber(file: string): Promise<number> {
  const n = Number(await readCgroupFile(file));
  return Number.isFinite(n) ? n : 0;
}

/** A write the kernel must accept: a refusal (EINVAL, EBUSY) names the file and value. */
export async function writeCgroupFile(file: string, value: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (err) {
    throw new KilnError(
      'cgroup_write_failed',
      `writing "${value}" to ${file} failed: ${(err as Error).message}`,
      500,
    );
  }
}

/** `key value` lines (memory.events, cpu.stat, memory.oom_control): the value of `key`, or 0. */
export function flatKeyed(text: string, key: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) : 0;
}

/**
 * Poll `done` until it holds, backing off from 1 ms to 16 ms: the kernel freezes tasks
 * asynchronously and says so only in a file (v1 `freezer.state`, v2 `cgroup.events`).
 */
export async function waitFor(done: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pause = 1;
  while (!(await done())) {
    if (Date.now() >= deadline) {
      throw new KilnError('cgroup_freeze_failed', `${what} did not happen within ${timeoutMs} ms`, 500);
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 16);
  }
}
