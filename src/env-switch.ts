import { KilnError } from './errors.js';

/**
 * A `1`/`0` switch read from the environment (`KILN_KSM`, `KILN_SHARED_REAPER`): unset or
 * empty is `fallback`; any other value is refused with what `1` and `0` mean.
 */
export function switchFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: boolean,
  meaning: { on: string; off?: string },
): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === '1') return true;
  if (raw === '0') return false;
  const off = meaning.off ? ` (${meaning.off})` : '';
  throw new KilnError('invalid_config', `${name} must be 1 (${meaning.on}) or 0${off}, got "${raw}"`, 500);
}
