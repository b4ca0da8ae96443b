import { KilnError } from '../errors.js';
import { isLanguageName, LANGUAGE_NAMES, type LanguageName } from '../languages/registry.js';
import { STORE_NAME } from './store-name.js';
import { parseVolumeMounts, type VolumeMount } from './volume-mounts.js';

/**
 * What a user says about a function: from `kiln.json` in the bundle, overridden by the
 * deploy request's query parameters. Every field but `name` and `runtime` has a default.
 */
export interface FunctionSpec {
  name: string;
  runtime: LanguageName;
  /** Where the handler is, in the language's own form (`Language.handler`, docs/DESIGN.md §5); undefined = its default. */
  handler?: string;
  /** Node: false ships the bundle's files as they are instead of bundling them with esbuild. */
  bundle?: boolean;
  /**
   * The API Gateway payload format HTTP requests become for a Lambda-style handler: "2.0"
   * (HTTP API, the default) or "1.0" (REST API's `httpMethod`, `multiValueHeaders`, ...), as
   * AWS lets each integration choose. Versions recorded before the field lack it: "2.0".
   */
  eventFormat?: EventFormat;
  /** The AWS region the function reports (`AWS_REGION`, ARNs); undefined: the gateway's `KILN_REGION`, else us-east-1. */
  region?: string;
  memoryMb: number;
  /** CPU quota in cores (default 1; versions recorded before that default may lack it). */
  cpus?: number;
  pids: number;
  timeoutMs: number;
  concurrency: number;
  minInstances: number;
  maxInstances: number;
  maxQueue: number;
  idleTtlMs: number;
  /** Async invocations: retries after a 5xx, timeout or crash (versions recorded before async may lack it). */
  asyncRetries?: number;
  /** Async invocations waiting per function; past it, 429. */
  maxAsyncQueue?: number;
  /** How long a finished async invocation's result is kept. */
  asyncRetentionMs?: number;
  env: Record<string, string>;
  /**
   * Secrets (`kiln secret create`) the function's instances see at `/run/secrets/NAME`, read-only
   * and readable by the instance's uid alone; names only, never values. Absent: none.
   */
  secrets?: string[];
  /**
   * Named volumes (`kiln volume create`) bind-mounted into every instance, read-write or
   * read-only (src/functions/volume-mounts.ts); sorted by path. Absent: none.
   */
  volumes?: VolumeMount[];
  /** `"token"`: invokes need the gateway's token like the control plane; absent: invokes are public. */
  auth?: 'token';
  /**
   * Functions this one may invoke through the gateway: its instances get the gateway's call
   * socket at `CALL_SOCKET_PATH` (`KILN_GATEWAY_SOCKET`), which serves `/fn/<name>/…` of these
   * names and nothing else (docs/SECURITY.md, "Calls between functions"). Absent: no socket.
   */
  calls?: string[];
}

const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
/** The secret store's rule, here so a spec needs no store to be checked. */
export const SECRET_NAME = STORE_NAME;

export type EventFormat = '1.0' | '2.0';
export const EVENT_FORMATS: readonly EventFormat[] = ['2.0', '1.0'];

/** An AWS region's form (`us-east-1`, `eu-central-2`, `us-gov-west-1`); Kiln knows no list of them. */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/**
 * Variables Lambda sets itself and does not let a function's configuration set (AWS,
 * "Defined runtime environment variables": reserved keys); Kiln sets them on every instance
 * (`src/pool/lambda-environment.ts`). The credentials AWS also reserves are not here: Kiln
 * has no execution role, so a function that calls AWS gets its keys through `env`. AWS lists
 * `TZ` as reserved too, yet functions set it there and it works; Kiln lets `env` set it.
 */
export const RESERVED_ENV = new Set([
  '_HANDLER',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
  // Kiln's own: where the gateway's call socket is, set for a function with `calls`.
  'KILN_GATEWAY_SOCKET',
]);

/**
 * A function's CPU quota unless its spec says otherwise: one core, as Lambda gives about one
 * vCPU at 1769 MB. Without a quota a function's background work could take every core (issue 8:
 * a spinner slowed a host CPU loop by 60 %).
 */
export const DEFAULT_CPUS = 1;

/** Async defaults (src/async): two retries, as Lambda makes for an `Event` invocation; results kept a day. */
export const DEFAULT_ASYNC_RETRIES = 2;
export const DEFAULT_MAX_ASYNC_QUEUE = 1000;
export const DEFAULT_ASYNC_RETENTION_MS = 86_400_000;

interface Bound {
  min: number;
  max: number;
  default: number | undefined;
  integer: boolean;
}

const NUMBERS: Record<string, Bound> = {
  memoryMb: { min: 16, max: 8192, default: 128, integer: true },
  cpus: { min: 0.05, max: 64, default: DEFAULT_CPUS, integer: false },
  pids: { min: 32, max: 32768, default: 256, integer: true },
  timeoutMs: { min: 10, max: 900_000, default: 30_000, integer: true },
  concurrency: { min: 1, max: 1000, default: 1, integer: true },
  minInstances: { min: 0, max: 100, default: 0, integer: true },
  maxInstances: { min: 1, max: 1000, default: 10, integer: true },
  maxQueue: { min: 0, max: 100_000, default: 100, integer: true },
  idleTtlMs: { min: 1000, max: 86_400_000, default: 300_000, integer: true },
  asyncRetries: { min: 0, max: 10, default: DEFAULT_ASYNC_RETRIES, integer: true },
  maxAsyncQueue: { min: 0, max: 1_000_000, default: DEFAULT_MAX_ASYNC_QUEUE, integer: true },
  asyncRetentionMs: { min: 1000, max: 604_800_000, default: DEFAULT_ASYNC_RETENTION_MS, integer: true },
};

export const SPEC_FIELDS = [
  'name',
  'runtime',
  'handler',
  'bundle',
  'eventFormat',
  'region',
  'env',
  'secrets',
  'volumes',
  'auth',
  'calls',
  ...Object.keys(NUMBERS),
];

function invalid(message: string): KilnError {
  return new KilnError('invalid_spec', message);
}

export function validateName(name: unknown): string {
  if (name === undefined || name === null || name === '') {
    throw new KilnError('missing_name', 'a function needs a name: ?name=NAME or "name" in kiln.json');
  }
  if (typeof name !== 'string' || name.length > 63 || !NAME.test(name)) {
    throw new KilnError(
      'invalid_name',
      `function name "${String(name)}" is invalid: use 1-63 characters of a-z, 0-9 and "-", not starting or ending with "-"`,
    );
  }
  return name;
}

export function validateRuntime(runtime: unknown): LanguageName {
  if (runtime === undefined || runtime === '') {
    throw new KilnError('missing_runtime', `a function needs a runtime: one of ${LANGUAGE_NAMES.join(', ')}`);
  }
  if (typeof runtime !== 'string' || !isLanguageName(runtime)) {
    throw new KilnError(
      'unknown_runtime',
      `unknown runtime "${String(runtime)}": use one of ${LANGUAGE_NAMES.join(', ')}`,
    );
  }
  return runtime;
}

/** Validate a spec from loosely typed input (JSON values, or strings from a query). */
export function parseSpec(input: Record<string, unknown>): FunctionSpec {
  const unknownKeys = Object.keys(input).filter((k) => !SPEC_FIELDS.includes(k));
  if (unknownKeys.length) throw invalid(`unknown spec field(s): ${unknownKeys.join(', ')}`);
  const spec: FunctionSpec = {
    name: validateName(input.name),
    runtime: validateRuntime(input.runtime),
    env: parseEnv(input.env),
  } as FunctionSpec;
  if (input.handler !== undefined && input.handler !== '') {
    if (typeof input.handler !== 'string' || input.handler.length > 256 || input.handler.includes('..')) {
      throw invalid('"handler" must be a path inside the bundle like "app.handler" or "src/index.ts"');
    }
    spec.handler = input.handler;
  }
  if (input.bundle !== undefined && input.bundle !== '') {
    if (input.bundle === false || input.bundle === 'false') spec.bundle = false;
    else if (input.bundle !== true && input.bundle !== 'true')
      throw invalid('"bundle" must be true or false');
  }
  if (input.auth !== undefined && input.auth !== '' && input.auth !== 'none') {
    if (input.auth !== 'token')
      throw invalid(`"auth" must be "token" or "none", got ${JSON.stringify(input.auth)}`);
    spec.auth = 'token';
  }
  spec.eventFormat = parseEventFormat(input.eventFormat);
  const secrets = parseSecrets(input.secrets);
  if (secrets.length) spec.secrets = secrets;
  const calls = parseCalls(input.calls);
  if (calls.length) spec.calls = calls;
  const volumes = parseVolumeMounts(input.volumes);
  if (volumes.length) spec.volumes = volumes;
  if (input.region !== undefined && input.region !== '') {
    if (typeof input.region !== 'string' || !REGION.test(input.region))
      throw invalid(`"region" must be an AWS region like "us-east-1", got ${JSON.stringify(input.region)}`);
    spec.region = input.region;
  }
  const numbers = spec as unknown as Record<string, number | undefined>;
  for (const [key, bound] of Object.entries(NUMBERS)) {
    const value = parseNumber(key, input[key], bound);
    if (value !== undefined) numbers[key] = value;
  }
  if (spec.minInstances > spec.maxInstances) throw invalid('"minInstances" cannot exceed "maxInstances"');
  return spec;
}

function parseNumber(key: string, raw: unknown, bound: Bound): number | undefined {
  if (raw === undefined || raw === '') return bound.default;
  const value = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalid(`"${key}" must be a number, got ${JSON.stringify(raw)}`);
  if (bound.integer && !Number.isInteger(value))
    throw invalid(`"${key}" must be a whole number, got ${value}`);
  if (value < bound.min || value > bound.max)
    throw invalid(`"${key}" must be between ${bound.min} and ${bound.max}, got ${value}`);
  return value;
}

function parseEventFormat(raw: unknown): EventFormat {
  if (raw === undefined || raw === '') return '2.0';
  // JSON may carry it as a number (1.0 and 2 parse as 1 and 2).
  const text = typeof raw === 'number' ? raw.toFixed(1) : raw;
  if (text === '1.0' || text === '2.0') return text;
  throw invalid(
    `"eventFormat" must be "2.0" (HTTP API, the default) or "1.0" (REST API), got ${JSON.stringify(raw)}`,
  );
}

function parseEnv(raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  const env = typeof raw === 'string' ? parseJson(raw, 'env') : raw;
  if (typeof env !== 'object' || env === null || Array.isArray(env))
    throw invalid('"env" must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalid(`env name "${k}" is not a valid variable name`);
    if (typeof v !== 'string') throw invalid(`env "${k}" must be a string`);
    if (RESERVED_ENV.has(k))
      throw invalid(`env "${k}" is reserved: Kiln sets it on every instance, as Lambda does`);
    out[k] = v;
  }
  return out;
}

/** Secret names: a JSON array, or a comma-separated string (a query parameter); sorted, each once. */
function parseSecrets(raw: unknown): string[] {
  return parseNameList(raw, 'secrets', 'secret names', (item) => {
    if (typeof item !== 'string' || !SECRET_NAME.test(item))
      throw invalid(`secret name ${JSON.stringify(item)} is invalid: use letters, digits, "_", "." and "-"`);
  });
}

/**
 * Function names a function may call (`calls`), in the same forms as `secrets`. A name need
 * not exist yet: a stack deploys callers and callees in any order, and calling a function
 * that does not exist answers 404 like any invoke.
 */
function parseCalls(raw: unknown): string[] {
  return parseNameList(raw, 'calls', 'function names', (item) => {
    if (typeof item !== 'string' || item.length > 63 || !NAME.test(item))
      throw invalid(
        `"calls" names ${JSON.stringify(item)}, which is no function name: use 1-63 characters of a-z, 0-9 and "-"`,
      );
  });
}

/** A JSON array, or a comma-separated string (a query parameter), of names: sorted, each once. */
function parseNameList(raw: unknown, field: string, what: string, check: (name: unknown) => void): string[] {
  if (raw === undefined || raw === '') return [];
  const list =
    typeof raw === 'string' ? (raw.trim().startsWith('[') ? parseJson(raw, field) : raw.split(',')) : raw;
  if (!Array.isArray(list)) throw invalid(`"${field}" must be an array of ${what}`);
  if (list.length > 32) throw invalid(`"${field}" names ${list.length} ${what}; at most 32`);
  const names = new Set<string>();
  for (const item of list) {
    const name = typeof item === 'string' ? item.trim() : item;
    check(name);
    names.add(name as string);
  }
  return [...names].sort();
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(`"${what}" is not valid JSON`);
  }
}
