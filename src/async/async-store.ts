import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../disk.js';
import type { AsyncInvocation } from './invocation.js';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isInvocationId(id: string): boolean {
  return ID.test(id);
}

/**
 * Async invocations on disk: `<data>/async/<id>.json`, one file each, rewritten whole with
 * `writeFileAtomic` (temp file, fsync, rename, fsync the dir) at every change of state, so
 * a gateway killed at any moment leaves each invocation as it was last written or as it
 * became, never half of either. The first write happens before the 202 is sent.
 */
export class AsyncStore {
  constructor(readonly dir: string) {}

  async save(invocation: AsyncInvocation): Promise<void> {
    await writeFileAtomic(this.file(invocation.id), JSON.stringify(invocation));
  }

  async remove(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
  }

  /** Every stored invocation; temp files a killed writer left are removed. */
  async loadAll(): Promise<AsyncInvocation[]> {
    const out: AsyncInvocation[] = [];
    for (const file of await readdir(this.dir)) {
      const full = path.join(this.dir, file);
      if (file.startsWith('.') && file.endsWith('.tmp')) {
        await rm(full, { force: true });
        continue;
      }
      if (!file.endsWith('.json') || !isInvocationId(file.slice(0, -5))) continue;
      out.push(JSON.parse(await readFile(full, 'utf8')) as AsyncInvocation);
    }
    return out;
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }
}
