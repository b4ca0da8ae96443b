import { createHash, timingSafeEqual } from 'node:crypto';
import { KilnError } from '../errors.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Checks `Authorization: Bearer <token>` in constant time. Both sides are hashed first, so
 * `timingSafeEqual` always compares 32 bytes: neither a wrong token's length nor how many of
 * its leading characters are right shows in the time the check takes (issue 8 item 6: a
 * plain `!==` did).
 */
export class BearerCheck {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  accepts(authorization: string | undefined): boolean {
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization ?? '');
    // Hash even when there is no token, so a missing header costs the same as a wrong one.
    const given = digest(match?.[1] ?? '');
    return timingSafeEqual(given, this.expected) && match !== null;
  }
}

/** The 401 a request without the right token gets, on the control plane and on `auth: "token"` functions. */
export function unauthorized(what: string): KilnError {
  return new KilnError(
    'unauthorized',
    `${what} needs Authorization: Bearer <token> (KILN_TOKEN, else the token file in the gateway's data dir; the CLI reads either)`,
    401,
    { 'www-authenticate': 'Bearer realm="kiln"' },
  );
}
