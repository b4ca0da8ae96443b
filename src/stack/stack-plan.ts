import type { FunctionSpec } from '../functions/spec.js';

/** A function as the stack file wants it. */
export interface DesiredFunction {
  name: string;
  spec: FunctionSpec;
  sourceDigest: string;
  /** Aliases to point at the version apply leaves active. */
  aliases?: string[];
}

/** A function as the gateway has it (its active version). */
export interface CurrentFunction {
  name: string;
  spec: FunctionSpec;
  /** Undefined when the gateway did not record one: then the source counts as changed. */
  sourceDigest?: string;
  activeVersion: number;
  /** Alias → version number. */
  aliases?: Record<string, number>;
}

export type StackStep =
  | { kind: 'create'; name: string }
  /** `redeploy`: the source or spec differs; else only aliases move to `activeVersion`. */
  | { kind: 'update'; name: string; changes: string[]; redeploy: boolean; activeVersion: number }
  | { kind: 'unchanged'; name: string }
  | { kind: 'remove'; name: string };

/**
 * What `kiln apply` does, as data: create what the gateway lacks, update what differs in
 * source (the bundle's files digest) or spec, or whose aliases the file names do not point at
 * the active version, leave the rest, and with `prune` remove what the file no longer names.
 * Order: the file's, then removals by name.
 */
export function planStack(
  desired: DesiredFunction[],
  current: CurrentFunction[],
  options: { prune: boolean },
): StackStep[] {
  const have = new Map(current.map((c) => [c.name, c]));
  const steps: StackStep[] = desired.map((d) => {
    const now = have.get(d.name);
    if (!now) return { kind: 'create', name: d.name };
    const changes: string[] = [];
    if (now.sourceDigest !== d.sourceDigest) changes.push('source');
    changes.push(...specChanges(now.spec, d.spec));
    const redeploy = changes.length > 0;
    // After a redeploy every alias the file names moves to the new version.
    for (const alias of d.aliases ?? []) {
      const at = now.aliases?.[alias];
      if (redeploy || at !== now.activeVersion)
        changes.push(`alias ${alias}${at === undefined || redeploy ? '' : ` ${at} → ${now.activeVersion}`}`);
    }
    return changes.length
      ? { kind: 'update', name: d.name, changes, redeploy, activeVersion: now.activeVersion }
      : { kind: 'unchanged', name: d.name };
  });
  if (options.prune) {
    const named = new Set(desired.map((d) => d.name));
    for (const c of [...current].sort((a, b) => a.name.localeCompare(b.name)))
      if (!named.has(c.name)) steps.push({ kind: 'remove', name: c.name });
  }
  return steps;
}

/** Spec fields that differ, as `field old → new` (env by name only: values may be secret). */
export function specChanges(from: FunctionSpec, to: FunctionSpec): string[] {
  const a = from as unknown as Record<string, unknown>;
  const b = to as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (key === 'name' || JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    if (key === 'env') {
      const ea = (a.env ?? {}) as Record<string, string>;
      const eb = (b.env ?? {}) as Record<string, string>;
      const names = [...new Set([...Object.keys(ea), ...Object.keys(eb)])]
        .filter((k) => ea[k] !== eb[k])
        .sort();
      out.push(`env ${names.join(', ')}`);
    } else {
      out.push(`${key} ${show(a[key])} → ${show(b[key])}`);
    }
  }
  return out;
}

function show(v: unknown): string {
  return v === undefined ? '(default)' : JSON.stringify(v);
}

/** A step as `kiln diff` prints it: `+` create, `~` update, `-` remove; unchanged ones are not shown. */
export function formatStep(step: StackStep): string | undefined {
  switch (step.kind) {
    case 'create':
      return `+ ${step.name}`;
    case 'update':
      return `~ ${step.name}: ${step.changes.join('; ')}`;
    case 'remove':
      return `- ${step.name}`;
    default:
      return undefined;
  }
}
