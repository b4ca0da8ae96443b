import { KilnError } from '../errors.js';
import { validateName } from './spec.js';

/**
 * What an invoke names: a function (`hello`: its active version), a version pinned by number
 * (`hello@7`) or an alias (`hello@prod`), as Lambda qualifies a function name with a version
 * or an alias (`my-function:7`, `my-function:prod`). Kiln uses `@` because `:` is common in
 * URL paths; function names cannot hold `@`, so the split is unambiguous.
 */
export type FunctionRef =
  | { name: string; kind: 'active' }
  | { name: string; kind: 'version'; version: number }
  | { name: string; kind: 'alias'; alias: string };

/** An alias: a-z first, then a-z, 0-9 and "-"; a name made of digits only would read as a version. */
const ALIAS = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function validateAliasName(alias: unknown): string {
  if (typeof alias !== 'string' || !ALIAS.test(alias)) {
    throw new KilnError(
      'invalid_alias',
      `alias "${String(alias)}" is invalid: use 1-63 characters of a-z, 0-9 and "-", starting with a letter`,
    );
  }
  return alias;
}

/** A version number as a user writes it (`7`), or a 400 naming where it came from. */
export function parseVersionNumber(raw: unknown, what = 'version'): number {
  const n = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new KilnError(
      'invalid_version',
      `${what} must be a version number like 3, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/** `name`, `name@7` or `name@alias` → a FunctionRef; a malformed one is a 404 (it names no function). */
export function parseFunctionRef(ref: string): FunctionRef {
  const at = ref.indexOf('@');
  if (at < 0) return { name: checkedName(ref), kind: 'active' };
  const name = checkedName(ref.slice(0, at));
  const qualifier = ref.slice(at + 1);
  if (/^\d{1,9}$/.test(qualifier)) return { name, kind: 'version', version: Number(qualifier) };
  if (ALIAS.test(qualifier)) return { name, kind: 'alias', alias: qualifier };
  throw new KilnError(
    'function_not_found',
    `"${ref}" names no function: use NAME, NAME@VERSION (a number) or NAME@ALIAS`,
    404,
  );
}

function checkedName(name: string): string {
  try {
    return validateName(name);
  } catch {
    throw new KilnError('function_not_found', `no function named "${name}" (kiln ls lists them)`, 404);
  }
}
