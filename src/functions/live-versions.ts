import type { FunctionRecord } from './function-store.js';
import type { FunctionSpec } from './spec.js';

/**
 * Functions whose active version or an aliased one (what `NAME` and `NAME@alias` serve)
 * has a spec that `uses` accepts: what keeps a secret or a volume from removal. A version
 * only reachable pinned by number (`NAME@3`) does not count, as an old Docker image does not
 * hold a secret: else nothing a function ever named could be removed while it lives.
 */
export function functionsWithLiveSpec(
  records: readonly FunctionRecord[],
  uses: (spec: FunctionSpec) => boolean,
): string[] {
  const users: string[] = [];
  for (const record of records) {
    const live = new Set([record.activeVersion, ...Object.values(record.aliases ?? {})]);
    if (record.versions.some((v) => live.has(v.version) && uses(v.spec))) users.push(record.name);
  }
  return users.sort();
}
