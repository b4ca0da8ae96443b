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
  const target = functions.resolve(name);
  const active = functions.active(target.spec.name);
  if (target.spec.auth !== 'token' && active.spec.auth !== 'token') return;
  if (!check?.accepts(authorization)) throw unauthorized(`function "${name}"`);
}
