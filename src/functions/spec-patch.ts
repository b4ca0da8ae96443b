import { KilnError } from '../errors.js';
import { type FunctionSpec, parseSpec } from './spec.js';

/** Fields that decide what the build makes: changing one needs a deploy, not a config update. */
export const BUILD_FIELDS = ['name', 'runtime', 'handler', 'bundle'] as const;

/**
 * A config update (`PATCH /functions/:name`) applied to a spec as a JSON merge patch
 * (RFC 7386): a field set to a value replaces it, `null` resets it to its default, and an
 * object (`env`) is merged key by key, `null` removing a key. The result is validated
 * like any spec. Fields that change the build are refused (`not_patchable`).
 */
export function patchSpec(spec: FunctionSpec, patch: unknown): FunctionSpec {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new KilnError(
      'invalid_spec',
      'the body must be a JSON object of spec fields, e.g. {"memoryMb": 256}',
    );
  }
  const fields = Object.keys(patch);
  if (fields.length === 0) throw new KilnError('invalid_spec', 'the body names no spec field to change');
  const build = fields.filter((k) => (BUILD_FIELDS as readonly string[]).includes(k));
  if (build.length) {
    throw new KilnError(
      'not_patchable',
      `${build.join(', ')} decide(s) what the build makes: change them with a deploy (kiln deploy)`,
    );
  }
  return parseSpec(mergePatch(spec, patch) as Record<string, unknown>);
}

/** RFC 7386 §2, MergePatch(Target, Patch). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** Two specs say the same thing (key order aside). */
export function sameSpec(a: FunctionSpec, b: FunctionSpec): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
