import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import { REGION, RESERVED_ENV } from '../functions/spec.js';
import { type LanguageName, languageNamed } from '../languages/registry.js';
import { CALL_SOCKET_DIR, CALL_SOCKET_NAME } from '../runtime/container-runtime.js';
import type { InitPayload } from './shim-protocol.js';

/** Where a function's code is in its container (AWS: /var/task). */
export const TASK_ROOT = '/fn';
/** Where the shim is (AWS: /var/runtime, the runtime's own files). */
export const RUNTIME_DIR = '/opt/kiln/shim';
export const DEFAULT_REGION = 'us-east-1';

/** What the gateway decides for every function: the region of those whose spec names none. */
export interface LambdaSettings {
  region: string;
}

/**
 * The variables every instance of a language has from its first instruction, cold or stem
 * alike: the ones that do not depend on the function (AWS, "Defined runtime environment
 * variables", with Kiln's paths for /var/task and /var/runtime). They go into the container's
 * own env because some are read only when a process starts (ld.so reads LD_LIBRARY_PATH once).
 *
 * Differences from AWS: `LANG` is `C.UTF-8` (the image has no en_US locale, and an unknown one
 * would make Java and Python fall back to ASCII); PATH has no /var/lang/bin (nothing is there).
 */
export function runtimeEnvironment(language: LanguageName): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin:/opt/bin',
    LD_LIBRARY_PATH: `/lib64:/usr/lib64:${RUNTIME_DIR}:${RUNTIME_DIR}/lib:${TASK_ROOT}:${TASK_ROOT}/lib:/opt/lib`,
    LANG: 'C.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: TASK_ROOT,
    LAMBDA_RUNTIME_DIR: RUNTIME_DIR,
    AWS_EXECUTION_ENV: `AWS_Lambda_${languageNamed(language).lambdaRuntime}`,
  };
}

/**
 * Lambda's whole environment for one instance of a function version: the runtime's
 * variables, the function's own `env` over the unreserved ones (PATH, LANG, TZ, ...), then
 * the reserved ones, which the spec cannot set (`RESERVED_ENV`). Both start paths send
 * this in `/init`, so a cold instance and a specialized stem cell end with the same set.
 * `streamId` names the instance in its log stream, as AWS's 32 hex digits do; `now` dates it.
 */
export function lambdaEnvironment(
  fn: FunctionVersion,
  settings: LambdaSettings,
  streamId: string,
  now: Date,
): Record<string, string> {
  const { spec } = fn;
  const region = spec.region ?? settings.region;
  const version = String(fn.version);
  const day = now.toISOString().slice(0, 10).replaceAll('-', '/');
  const reserved: Record<string, string> = {
    _HANDLER: spec.handler ?? fn.handler,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${languageNamed(spec.runtime).lambdaRuntime}`,
    AWS_LAMBDA_FUNCTION_NAME: spec.name,
    AWS_LAMBDA_FUNCTION_VERSION: version,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[${version}]${streamId}`,
    LAMBDA_TASK_ROOT: TASK_ROOT,
    LAMBDA_RUNTIME_DIR: RUNTIME_DIR,
  };
  // A function that calls others finds the gateway's call socket here (docs/SECURITY.md).
  if (spec.calls?.length) reserved.KILN_GATEWAY_SOCKET = `${CALL_SOCKET_DIR}/${CALL_SOCKET_NAME}`;
  const own = Object.fromEntries(Object.entries(spec.env).filter(([k]) => !RESERVED_ENV.has(k)));
  return { ...runtimeEnvironment(spec.runtime), ...own, ...reserved };
}

/**
 * The shim's `POST /init` for a version (docs/DESIGN.md §5), the same for cold and stem starts;
 * `prewarmed`: no request waits on this start.
 */
export function initPayloadOf(
  fn: FunctionVersion,
  settings: LambdaSettings,
  streamId: string,
  prewarmed: boolean,
  now = new Date(),
): InitPayload {
  return {
    handler: fn.handler,
    source: fn.source,
    env: lambdaEnvironment(fn, settings, streamId, now),
    codeDir: TASK_ROOT,
    function: { name: fn.spec.name, version: fn.version, memoryMb: fn.spec.memoryMb },
    eventFormat: fn.spec.eventFormat ?? '2.0',
    concurrency: fn.spec.concurrency,
    prewarmed,
  };
}

/** `KILN_REGION`, else us-east-1. */
export function regionFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const region = env.KILN_REGION || DEFAULT_REGION;
  if (!REGION.test(region))
    throw new KilnError(
      'invalid_config',
      `KILN_REGION must be an AWS region like us-east-1, got "${region}"`,
      500,
    );
  return region;
}
