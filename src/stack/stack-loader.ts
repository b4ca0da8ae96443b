import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isPacked } from '../build/pack-dir.js';
import { sourceDigest } from '../build/source-digest.js';
import { readKilnJson } from '../deploy/deployer.js';
import { KilnError } from '../errors.js';
import { deployFields } from '../functions/deploy-fields.js';
import type { FunctionRecord } from '../functions/function-store.js';
import { type FunctionSpec, parseSpec } from '../functions/spec.js';
import { parseStack, type StackFunction, type StackIssue, stackError } from './stack-file.js';
import { type CurrentFunction, formatStep, planStack, type StackStep } from './stack-plan.js';

/** A stack function ready to compare and deploy: its dir, the deploy's fields, its spec and source digest. */
export interface LoadedFunction extends StackFunction {
  /** The stack file as messages name it (relative to the working dir). */
  file: string;
  absDir: string;
  /** Query fields of `POST /functions` (strings; env as JSON). */
  query: Record<string, string>;
  spec: FunctionSpec;
  sourceDigest: string;
}

/** A whole stack: its functions, ready to compare and deploy, and the volumes it declares. */
export interface LoadedStack {
  functions: LoadedFunction[];
  volumes: string[];
}

/** The functions of a stack file (`loadStackFile`), for callers that need no volumes. */
export async function loadStack(file: string): Promise<LoadedFunction[]> {
  return (await loadStackFile(file)).functions;
}

export interface LoadOptions {
  /** The file's name in messages (default: relative to the working dir). */
  shownAs?: string;
  /** A dir every function's dir must be inside (a stack the gateway received: its bundle). */
  within?: string;
}

/**
 * Read and check a whole stack file before anything is applied: the YAML and every field
 * (`parseStack`), then each function's dir, its runtime (detected from the files when
 * unsaid) and the spec the gateway would make of it with the dir's own `kiln.json`.
 * Any issue throws `invalid_stack` listing them all.
 */
export async function loadStackFile(file: string, options: LoadOptions = {}): Promise<LoadedStack> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new KilnError('not_found', `no stack file ${options.shownAs ?? file} (kiln apply -f FILE)`);
  }
  const shown = options.shownAs ?? (path.relative(process.cwd(), file) || file);
  const { functions, volumes, issues } = parseStack(shown, text);
  const loaded: LoadedFunction[] = [];
  for (const fn of functions) {
    const issue = (message: string): StackIssue => ({
      file: shown,
      line: fn.line,
      column: 3,
      field: `functions.${fn.name}`,
      message,
    });
    const absDir = path.resolve(path.dirname(file), fn.dir);
    const inside = options.within === undefined ? '' : path.relative(options.within, absDir);
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
      issues.push(issue(`dir "${fn.dir}" is outside the stack's directory`));
      continue;
    }
    const st = await stat(absDir).catch(() => undefined);
    if (!st?.isDirectory()) {
      issues.push(issue(`dir "${fn.dir}" is not a directory (relative to the stack file)`));
      continue;
    }
    try {
      const flags: Record<string, unknown> = { name: fn.name };
      for (const [k, v] of Object.entries(fn.fields))
        flags[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
      const fields = await deployFields(absDir, flags);
      const kilnJson = await readKilnJson(absDir);
      const spec = parseSpec({ ...kilnJson, ...fields });
      const query = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]));
      loaded.push({
        ...fn,
        file: shown,
        absDir,
        query,
        spec,
        sourceDigest: await sourceDigest(absDir, isPacked),
      });
    } catch (err) {
      issues.push(issue((err as Error).message));
    }
  }
  if (issues.length) throw stackError(issues);
  return { functions: loaded, volumes };
}

/** Volumes the stack declares that the gateway lacks: `kiln apply` creates them before any deploy. */
export function missingVolumes(declared: readonly string[], existing: ReadonlySet<string>): string[] {
  return declared.filter((v) => !existing.has(v));
}

/**
 * What the stack needs of the gateway's state, checked before anything is applied: the
 * secrets its functions name exist (a deploy naming a missing one would fail on its own,
 * after the others had deployed). Issues at each function, as `parseStack`'s.
 */
export function missingSecrets(functions: LoadedFunction[], existing: ReadonlySet<string>): StackIssue[] {
  const issues: StackIssue[] = [];
  for (const fn of functions) {
    const missing = (fn.spec.secrets ?? []).filter((s) => !existing.has(s));
    if (missing.length)
      issues.push({
        file: fn.file,
        line: fn.line,
        column: 3,
        field: `functions.${fn.name}.secrets`,
        message: `no secret ${missing.map((m) => `"${m}"`).join(', ')} on the gateway: create it first (kiln secret create NAME)`,
      });
  }
  return issues;
}

/** What a plan is made against: the gateway's secrets and volumes (names) and its functions. */
export interface GatewayState {
  secrets: ReadonlySet<string>;
  volumes: ReadonlySet<string>;
  functions: FunctionRecord[];
}

/** What applying a stack will do: volumes to create first, then a step per function. */
export interface StackPlan {
  newVolumes: string[];
  steps: StackStep[];
}

/**
 * The plan of a loaded stack against the gateway's state: the secrets checked first (issues
 * throw `invalid_stack`, nothing applied), the volumes it declares and the gateway lacks, then
 * `planStack` over each function's active version. The CLI reads that state over HTTP, the
 * gateway from its stores.
 */
export function planAgainst(stack: LoadedStack, state: GatewayState, options: { prune: boolean }): StackPlan {
  const missing = missingSecrets(stack.functions, state.secrets);
  if (missing.length) throw stackError(missing);
  return {
    newVolumes: missingVolumes(stack.volumes, state.volumes),
    steps: planStack(stack.functions, state.functions.map(currentOf), options),
  };
}

/** A plan as `kiln diff` prints it: `+ volume NAME`, then `formatStep`'s lines. */
export function planLines(plan: StackPlan): string[] {
  return [
    ...plan.newVolumes.map((v) => `+ volume ${v}`),
    ...plan.steps.map(formatStep).filter((l) => l !== undefined),
  ];
}

/** A function as `planStack` compares it: its active version's spec and source digest, its aliases. */
export function currentOf(record: FunctionRecord): CurrentFunction {
  const active = record.versions.find((v) => v.version === record.activeVersion)!;
  return {
    name: record.name,
    spec: active.spec,
    sourceDigest: active.sourceDigest,
    activeVersion: record.activeVersion,
    aliases: record.aliases,
  };
}
