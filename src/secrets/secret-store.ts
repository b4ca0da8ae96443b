import { chmod, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { syncPath, writeFileAtomic } from '../disk.js';
import { KilnError } from '../errors.js';
// Docker's secret names, shortened: a letter or digit, then letters, digits, `_`, `.`, `-`.
import { SECRET_NAME } from '../functions/spec.js';
import { checkedStoreName } from '../functions/store-name.js';

/** Docker caps a secret at 500 KB (`docker secret create`); Kiln at 512 KiB. */
export const MAX_SECRET_BYTES = 512 * 1024;

/** What the API says about a secret: never its value. */
export interface SecretInfo {
  name: string;
  size: number;
  createdAt: string;
}

export function validateSecretName(name: unknown): string {
  return checkedStoreName(name, 'secret');
}

/**
 * Secrets (issue 12): one 0600 file each in a 0700 dir of the data dir, written whole or
 * not at all; outside every image, log and API answer. Instances of functions that name a
 * secret get a copy at `/run/secrets/NAME` (ImageLauncher), readable by their uid alone.
 */
export class SecretStore {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // A dir made before (or by a looser umask) is tightened: only the gateway reads secrets.
    await chmod(this.dir, 0o700);
  }

  /** Create `name`; 409 when it exists (Docker's rule: a secret changes by rm and create). */
  async create(name: string, value: Uint8Array): Promise<SecretInfo> {
    validateSecretName(name);
    if (value.length === 0) throw new KilnError('empty_secret', `secret "${name}" has no value`);
    if (value.length > MAX_SECRET_BYTES) {
      throw new KilnError(
        'secret_too_large',
        `secret "${name}" is ${value.length} bytes; the limit is ${MAX_SECRET_BYTES}`,
        413,
      );
    }
    if (await this.has(name)) {
      throw new KilnError('secret_exists', `secret "${name}" exists: remove it first (kiln secret rm)`, 409);
    }
    await writeFileAtomic(this.fileOf(name), value, 0o600);
    return this.info(name);
  }

  async has(name: string): Promise<boolean> {
    if (!SECRET_NAME.test(name)) return false;
    return stat(this.fileOf(name)).then(
      () => true,
      () => false,
    );
  }

  async info(name: string): Promise<SecretInfo> {
    validateSecretName(name);
    const st = await stat(this.fileOf(name)).catch(() => {
      throw notFound(name);
    });
    return { name, size: st.size, createdAt: st.mtime.toISOString() };
  }

  async list(): Promise<SecretInfo[]> {
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => SECRET_NAME.test(n));
    return Promise.all(names.sort().map((n) => this.info(n)));
  }

  /** The value, for an instance's `/run/secrets` and `kiln export k8s --apply` (to the cluster's API) only. */
  async read(name: string): Promise<Buffer> {
    validateSecretName(name);
    return readFile(this.fileOf(name)).catch(() => {
      throw notFound(name);
    });
  }

  async remove(name: string): Promise<void> {
    await this.info(name);
    await rm(this.fileOf(name), { force: true });
    await syncPath(this.dir);
  }

  private fileOf(name: string): string {
    return path.join(this.dir, name);
  }
}

function notFound(name: string): KilnError {
  return new KilnError('secret_not_found', `no secret named "${name}" (kiln secret ls)`, 404);
}
