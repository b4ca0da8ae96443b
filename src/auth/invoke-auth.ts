import type { FunctionStore } from '../functions/function-store.js';
import { type BearerCheck, unauthorized } from './bearer.js';

/**
 * An invoke of a function whose active version's spec says `auth: "token"` needs the
 * gateway's token; any other invoke is public (a function is an API its author may open to
 * the world). A gateway run with `--insecure-no-auth` has no token to accept, so such a
 * function then answers 401 to everyone: it fails closed.
 * An unknown function is a 404 `function_not_found`, as the pool would answer.
 * `name` may pin a version (`NAME@7`, `NAME@alias`): then the token is needed when that
 * version or the active one asks for it, so an old version cannot open what the function closed.
 */
export function checkInvokeAuth(
  functions: FunctionStore,
  name: string,
  authorization: string | undefined,
  check: BearerCheck | undefined,
): void {
  if (!invokeNeedsToken(functions, name)) return;
  if (!check?.accepts(authorization)) throw unauthorized(`function "${name}"`);
}

/** Whether invokes of `name` (maybe `NAME@7`, `NAME@alias`) need the gateway's token. */
export function invokeNeedsToken(functions: FunctionStore, name: string): boolean {
  const target = functions.resolve(name);
  return target.spec.auth === 'token' || functions.active(target.spec.name).spec.auth === 'token';
}
