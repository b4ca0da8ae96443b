import { KilnError } from '../../errors.js';
import { findOnPath } from '../../find-on-path.js';
import type { OciDriverOptions } from './cli-driver.js';
import { CrunDriver } from './crun.js';
import type { OciRuntimeDriver } from './driver.js';
import { RuncDriver } from './runc.js';

/**
 * Every OCI runtime Kiln can drive, preferred first. A new runtime (runsc, youki) is one
 * file beside crun.ts implementing `OciRuntimeDriver` (usually by extending
 * `OciCliDriver`) and one line here.
 */
export const OCI_RUNTIMES: readonly {
  name: string;
  make(binary: string, stateRoot: string, options?: OciDriverOptions): OciRuntimeDriver;
}[] = [
  { name: 'crun', make: (binary, stateRoot, options) => new CrunDriver(binary, stateRoot, options) },
  { name: 'runc', make: (binary, stateRoot, options) => new RuncDriver(binary, stateRoot, options) },
];

/** The runtimes installed on this host, in preference order (`prefer` first). */
export async function installedOciRuntimes(
  stateRoot: string,
  prefer?: string,
  options?: OciDriverOptions,
): Promise<OciRuntimeDriver[]> {
  if (prefer && !OCI_RUNTIMES.some((r) => r.name === prefer)) {
    throw new KilnError(
      'invalid_config',
      `KILN_OCI_RUNTIME is "${prefer}": use one of ${OCI_RUNTIMES.map((r) => r.name).join(', ')}`,
      500,
    );
  }
  const order = [...OCI_RUNTIMES].sort((a, b) => Number(b.name === prefer) - Number(a.name === prefer));
  const found: OciRuntimeDriver[] = [];
  for (const runtime of order) {
    const binary = await findOnPath(runtime.name);
    if (binary) found.push(runtime.make(binary, stateRoot, options));
  }
  return found;
}

/** The one place Kiln picks its OCI runtime: `KILN_OCI_RUNTIME` if set and installed, else the first installed. */
export async function selectOciRuntime(
  stateRoot: string,
  prefer = process.env.KILN_OCI_RUNTIME || undefined,
  options?: OciDriverOptions,
): Promise<OciRuntimeDriver> {
  const [driver] = await installedOciRuntimes(stateRoot, prefer, options);
  if (driver) return driver;
  throw new KilnError(
    'no_oci_runtime',
    'neither crun nor runc is installed: run `apt-get install -y crun` (then `kiln doctor --fix`)',
    500,
  );
}
