import type { FunctionRecord } from '../functions/function-store.js';
import { functionsWithLiveSpec } from '../functions/live-versions.js';

/**
 * Which functions mount volume `name` in their active or an aliased version (`kiln volume rm`
 * refuses while any does). A version reachable only pinned by number does not keep it (see
 * `functionsWithLiveSpec`); its running instances do (`VolumeStore.hold`), and a later start
 * of it fails with `volume_not_found`.
 */
export function functionsUsingVolume(records: readonly FunctionRecord[], name: string): string[] {
  return functionsWithLiveSpec(records, (spec) => (spec.volumes ?? []).some((m) => m.name === name));
}
