import { isIP } from 'node:net';
import { KilnError } from '../errors.js';

/** Where the control-plane token of `kiln serve` comes from. */
export type TokenSource =
  | { kind: 'env'; token: string }
  /** `<data>/control-token`, made at the first start. */
  | { kind: 'file' }
  /** `--insecure-no-auth`: the control plane is open to whoever reaches the port. */
  | { kind: 'none'; warning: string };

/** True for addresses only this host can reach: 127.0.0.0/8, ::1, `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Which token `kiln serve` demands: `KILN_TOKEN` if set, else the data dir's token file
 * (made at the first start, readable by the local CLI). Running without one takes an
 * explicit `--insecure-no-auth`, and off loopback it comes with a louder warning: the
 * control plane deploys code, so whoever reaches an open one runs code on this host.
 */
export function chooseTokenSource(input: {
  host: string;
  envToken: string | undefined;
  insecureNoAuth: boolean;
}): TokenSource {
  if (input.insecureNoAuth) {
    if (input.envToken)
      throw new KilnError(
        'conflicting_auth',
        'KILN_TOKEN is set and --insecure-no-auth asks for no token: drop one of them',
      );
    const warning = isLoopbackHost(input.host)
      ? `--insecure-no-auth: the control plane on ${input.host} needs no token; every local user can deploy and remove functions`
      : `--insecure-no-auth on ${input.host}, which is not loopback: ANYONE who can reach this port can deploy code and run it on this host`;
    return { kind: 'none', warning };
  }
  if (input.envToken !== undefined && input.envToken !== '') {
    if (/\s/.test(input.envToken) || input.envToken.length < 16)
      throw new KilnError(
        'weak_token',
        'KILN_TOKEN must be at least 16 characters with no spaces (e.g. `openssl rand -base64 32`)',
      );
    return { kind: 'env', token: input.envToken };
  }
  return { kind: 'file' };
}
