import type { FunctionRecord } from '../functions/function-store.js';

/**
 * Which functions use secret `name`: those whose active version or an aliased one names it
 * (`NAME`, `NAME@alias` serve it; a version only reachable pinned by number does not hold a
 * secret, as an old Docker image does not hold one). `kiln secret rm` refuses while any does.
 */
export function functionsUsingSecret(records: readonly FunctionRecord[], name: string): string[] {
  const users: string[] = [];
  for (const record of records) {
    const live = new Set([record.activeVersion, ...Object.values(record.aliases ?? {})]);
    const uses = record.versions.some((v) => live.has(v.version) && (v.spec.secrets ?? []).includes(name));
    if (uses) users.push(record.name);
  }
  return users.sort();
}
