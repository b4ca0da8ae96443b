import type { FunctionRecord } from '../functions/function-store.js';
import { functionsWithLiveSpec } from '../functions/live-versions.js';

/** Which functions use secret `name` (`kiln secret rm` refuses while any does). */
export function functionsUsingSecret(records: readonly FunctionRecord[], name: string): string[] {
  return functionsWithLiveSpec(records, (spec) => (spec.secrets ?? []).includes(name));
}
