import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  type YAMLMap,
} from 'yaml';
import { KilnError } from '../errors.js';
import { validateAliasName } from '../functions/function-ref.js';
import { parseSpec, SPEC_FIELDS, validateName, validateRuntime } from '../functions/spec.js';
import { parseVolumeMounts, validateVolumeName } from '../functions/volume-mounts.js';

/**
 * `kiln.yaml`: many functions and their shared defaults in one file, like a compose file or
 * OpenFaaS's stack.yml:
 *
 *   defaults:              # any spec field; env is merged, the function's names win
 *     memoryMb: 128
 *   volumes: [uploads]     # named volumes the functions mount; `kiln apply` makes missing ones
 *   functions:
 *     api:                 # the function's name
 *       dir: api           # its directory, relative to this file (default: the name)
 *       runtime: node
 *       handler: index.handler
 *       env: { LOG_LEVEL: info }
 *       volumes: [{ name: uploads, path: /data }]   # or "uploads:/data[:ro]"
 *
 * Parsing is pure (text in, functions or issues out); every issue names the file, line,
 * column and field, and a stack with any issue is applied not at all.
 */
export interface StackFunction {
  name: string;
  /** The function's directory, as written (relative to the stack file) */
  dir: string;
  /** Spec fields for the deploy (no name): defaults merged under the function's own. */
  fields: Record<string, unknown>;
  /** Functions of the stack deployed before this one (`dependsOn`, compose's `depends_on`). */
  dependsOn: string[];
  /** Aliases `kiln apply` points at the version it leaves active (`/fn/NAME@alias`). */
  aliases: string[];
  line: number;
}

export interface StackIssue {
  file: string;
  line: number;
  column: number;
  field: string;
  message: string;
}

export interface ParsedStack {
  functions: StackFunction[];
  /** Volumes the file declares (top-level `volumes`), each once: every one a function mounts is here. */
  volumes: string[];
  issues: StackIssue[];
}

/** Fields only a function may set, not `defaults`: where it is, what it waits for, its aliases. */
const OWN_FIELDS = ['dir', 'dependsOn', 'aliases'];
/** Fields a stack may set per function or in `defaults` (`name` is the key). */
export const STACK_FIELDS = [...OWN_FIELDS, ...SPEC_FIELDS.filter((f) => f !== 'name')];
const TOP_LEVEL = ['version', 'defaults', 'volumes', 'functions'];

export function parseStack(file: string, text: string): ParsedStack {
  const lines = new LineCounter();
  // `merge`: YAML's merge key (`<<: *base`), as compose files use it with `x-` fields.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, merge: true });
  const issues: StackIssue[] = [];
  // A pair's value as plain data, aliases (`*name`) resolved through the document.
  const plainValue = (pair: Pair | undefined): unknown => (pair?.value as Node | null | undefined)?.toJS(doc);
  const at = (node: Node | Pair | null | undefined, field: string, message: string) => {
    const offset =
      (node as Node | undefined)?.range?.[0] ?? ((node as Pair | undefined)?.key as Node)?.range?.[0] ?? 0;
    const pos = lines.linePos(offset);
    issues.push({ file, line: pos.line, column: pos.col, field, message });
  };
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
    issues.push({
      file,
      line: pos.line,
      column: pos.col,
      field: '(yaml)',
      message: e.message.split('\n')[0]!,
    });
  }
  if (issues.length) return { functions: [], volumes: [], issues };
  const root = doc.contents;
  if (!isMap(root)) {
    at(root as Node, '(file)', 'a stack file is a map with "functions" (and optional "defaults")');
    return { functions: [], volumes: [], issues };
  }
  for (const pair of root.items) {
    const key = keyOf(pair);
    // `x-…` fields are the file's own (compose's extension fields): anchors to merge from.
    if (!TOP_LEVEL.includes(key) && !key.startsWith('x-'))
      at(pair.key as Node, key, `unknown top-level field: use ${TOP_LEVEL.join(', ')} (or x-… for your own)`);
  }
  const volumes = declaredVolumes(root.get('volumes', true) as Node | undefined, at);
  const defaultsNode = root.get('defaults', true) as Node | undefined;
  let defaults = new Map<string, Pair>();
  if (defaultsNode !== undefined) {
    if (!isMap(defaultsNode)) at(defaultsNode, 'defaults', '"defaults" must be a map of spec fields');
    else defaults = fieldsOf(doc, defaultsNode, 'defaults', at);
  }
  const functionsNode = root.get('functions', true) as Node | undefined;
  if (!isMap(functionsNode)) {
    at(functionsNode ?? root, 'functions', '"functions" must be a map of function names to their fields');
    return { functions: [], volumes: [], issues };
  }
  const functions: StackFunction[] = [];
  const dependsOnAt = new Map<string, Node>();
  for (const pair of functionsNode.items) {
    const name = keyOf(pair);
    const where = `functions.${name}`;
    try {
      validateName(name);
    } catch (err) {
      at(pair.key as Node, where, (err as Error).message);
      continue;
    }
    if (pair.value !== null && !isMap(pair.value)) {
      at(pair.value as Node, where, `function "${name}" must be a map of fields`);
      continue;
    }
    const own = pair.value ? fieldsOf(doc, pair.value as YAMLMap, where, at) : new Map<string, Pair>();
    // Where each field's value comes from: the function's own, else defaults.
    const source = new Map<string, { pair: Pair; field: string }>();
    for (const [k, p] of defaults) source.set(k, { pair: p, field: `defaults.${k}` });
    for (const [k, p] of own) source.set(k, { pair: p, field: `${where}.${k}` });
    const fields: Record<string, unknown> = {};
    let ok = true;
    for (const [k, { pair: p, field }] of source) {
      if (k === 'env') continue;
      const value = plainValue(p);
      const problem = checkField(k, value);
      if (problem) {
        at(p.value as Node, field, problem);
        ok = false;
      } else if (!OWN_FIELDS.includes(k)) {
        fields[k] = value;
      }
    }
    const env: Record<string, unknown> = {};
    for (const [p, field] of [
      [defaults.get('env'), 'defaults.env'],
      [own.get('env'), `${where}.env`],
    ] as const) {
      if (!p) continue;
      const value = plainValue(p);
      const problem = checkField('env', value);
      if (problem) {
        at(p.value as Node, field, problem);
        ok = false;
      } else {
        Object.assign(env, value);
      }
    }
    if (Object.keys(env).length) fields.env = env;
    const dirValue = plainValue(own.get('dir'));
    const dir = typeof dirValue === 'string' && dirValue ? dirValue : name;
    const dependsOnPair = own.get('dependsOn');
    const dependsOnValue = plainValue(dependsOnPair);
    const dependsOn = Array.isArray(dependsOnValue) ? (dependsOnValue as string[]) : [];
    const aliasesValue = plainValue(own.get('aliases'));
    const aliases = Array.isArray(aliasesValue) ? (aliasesValue as string[]) : [];
    const mountsPair = source.get('volumes');
    if (ok && mountsPair) {
      // Like compose: a named volume a function mounts is declared at the top of the file.
      const undeclared = parseVolumeMounts(fields.volumes)
        .map((m) => m.name)
        .filter((n) => !volumes.includes(n));
      if (undeclared.length) {
        at(
          mountsPair.pair.value as Node,
          mountsPair.field,
          `volume(s) ${undeclared.map((n) => `"${n}"`).join(', ')} not declared: list them under the top-level "volumes"`,
        );
        ok = false;
      }
    }
    if (ok && fields.runtime !== undefined) {
      // The whole spec, for rules across fields (minInstances ≤ maxInstances).
      try {
        parseSpec({ ...fields, name });
      } catch (err) {
        at(pair.key as Node, where, (err as Error).message);
        ok = false;
      }
    }
    if (ok) {
      const line = lines.linePos((pair.key as Node).range![0]).line;
      functions.push({ name, dir, fields, dependsOn, aliases, line });
      if (dependsOnPair) dependsOnAt.set(name, dependsOnPair.value as Node);
    }
  }
  // `dependsOn` names functions of this file, and never leads back to the function itself.
  const named = new Set(functionsNode.items.map(keyOf));
  for (const fn of functions) {
    const node = dependsOnAt.get(fn.name);
    for (const dep of fn.dependsOn) {
      if (dep === fn.name) at(node, `functions.${fn.name}.dependsOn`, `"${dep}" cannot depend on itself`);
      else if (!named.has(dep))
        at(node, `functions.${fn.name}.dependsOn`, `"${dep}" is not a function of this stack`);
    }
  }
  const cycle = dependencyCycle(functions);
  if (cycle)
    at(
      dependsOnAt.get(cycle[0]!),
      `functions.${cycle[0]}.dependsOn`,
      `a dependency cycle: ${cycle.join(' → ')}`,
    );
  // A bad default is reported once, not once per function that uses it.
  const seen = new Set<string>();
  const unique = issues.filter((i) => {
    const key = `${i.line}:${i.column}:${i.field}:${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { functions, volumes, issues: unique };
}

/** The top-level `volumes`: a list of volume names, each once. */
function declaredVolumes(
  node: Node | undefined,
  at: (node: Node | null | undefined, field: string, message: string) => void,
): string[] {
  if (node === undefined) return [];
  if (!isSeq(node)) {
    at(node, 'volumes', '"volumes" must be a list of volume names (kiln apply creates missing ones)');
    return [];
  }
  const names: string[] = [];
  for (const item of node.items as Node[]) {
    const value = isScalar(item) ? item.value : undefined;
    try {
      const name = validateVolumeName(value);
      if (names.includes(name)) at(item, 'volumes', `volume "${name}" is listed twice`);
      else names.push(name);
    } catch (err) {
      at(item, 'volumes', (err as Error).message);
    }
  }
  return names;
}

/**
 * A cycle among the functions' `dependsOn` (names of the path that closes it, first name
 * again at the end), or undefined. Names outside the list are ignored (reported apart).
 */
export function dependencyCycle(functions: { name: string; dependsOn: string[] }[]): string[] | undefined {
  const deps = new Map(functions.map((f) => [f.name, f.dependsOn]));
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (done.has(name)) return undefined;
    const open = path.indexOf(name);
    if (open >= 0) return [...path.slice(open), name];
    path.push(name);
    for (const dep of deps.get(name) ?? []) {
      if (dep === name || !deps.has(dep)) continue;
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(name);
    return undefined;
  };
  for (const f of functions) {
    const cycle = visit(f.name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** One field's problem, or undefined: the spec's own rules for its value. */
function checkField(key: string, value: unknown): string | undefined {
  try {
    if (key === 'dir') {
      if (typeof value !== 'string' || value === '') return '"dir" must be a directory path';
      return undefined;
    }
    if (key === 'dependsOn') {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
        return '"dependsOn" must be a list of function names';
      return undefined;
    }
    if (key === 'aliases') {
      if (!Array.isArray(value)) return '"aliases" must be a list of alias names';
      for (const alias of value) validateAliasName(alias);
      return undefined;
    }
    if (key === 'runtime') {
      validateRuntime(value);
      return undefined;
    }
    parseSpec({ name: 'x', runtime: 'node', [key]: value });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function keyOf(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

/**
 * A map's fields by name, each with its pair (for its position). Merge keys (`<<: *base` or
 * `<<: [*a, *b]`) add the fields of the maps they name under the map's own, earlier maps
 * first (YAML 1.1 merge key type, https://yaml.org/type/merge.html).
 */
function fieldsOf(
  doc: Document,
  map: YAMLMap,
  where: string,
  at: (node: Node | null | undefined, field: string, message: string) => void,
  seen = new Set<YAMLMap>(),
): Map<string, Pair> {
  const out = new Map<string, Pair>();
  const merged: YAMLMap[] = [];
  seen.add(map);
  for (const pair of map.items) {
    if (isScalar(pair.key) && typeof pair.key.value === 'symbol') {
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const node of sources) {
        const target = isAlias(node) ? node.resolve(doc) : node;
        if (!isMap(target) || seen.has(target)) {
          at(node as Node, `${where}.<<`, 'a merge key (<<) takes a map or a list of maps (e.g. *base)');
          continue;
        }
        merged.push(target);
      }
      continue;
    }
    const key = keyOf(pair);
    if (!STACK_FIELDS.includes(key) || (where === 'defaults' && OWN_FIELDS.includes(key))) {
      at(pair.key as Node, `${where}.${key}`, `unknown field "${key}": use ${STACK_FIELDS.join(', ')}`);
      continue;
    }
    out.set(key, pair);
  }
  for (const source of merged) {
    for (const [key, pair] of fieldsOf(doc, source, where, at, seen)) if (!out.has(key)) out.set(key, pair);
  }
  return out;
}

/** All issues as one error: `file:line:column: field: message`, one per line. */
export function stackError(issues: StackIssue[]): KilnError {
  return new KilnError(
    'invalid_stack',
    `the stack has ${issues.length} problem(s); nothing was applied:\n${issues
      .map((i) => `${i.file}:${i.line}:${i.column}: ${i.field}: ${i.message}`)
      .join('\n')}`,
  );
}
