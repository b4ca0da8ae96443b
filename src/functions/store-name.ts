import { KilnError } from '../errors.js';

/**
 * Names of what the gateway keeps as a directory or file of its data dir, secrets and volumes:
 * Docker's rule for volume names (`[a-zA-Z0-9][a-zA-Z0-9_.-]`), at most 63 characters, so a
 * name can never be `.`, `..` or hold a `/`.
 */
export const STORE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** `name` if it is a `STORE_NAME`, else `invalid_<kind>_name` (400) saying the rule. */
export function checkedStoreName(name: unknown, kind: 'secret' | 'volume'): string {
  if (typeof name !== 'string' || !STORE_NAME.test(name)) {
    throw new KilnError(
      `invalid_${kind}_name`,
      `${kind} name ${JSON.stringify(name)} is invalid: use 1-63 characters of A-Z, a-z, 0-9, "_", "." and "-", starting with a letter or digit`,
    );
  }
  return name;
}
