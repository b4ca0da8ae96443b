// Finds the function's handler the way docs/DESIGN.md §5 describes: Lambda's `file.export` form
// (`app.lambdaHandler`, `src/lambda.handler`), or an entry file alone whose default
// export's `fetch` is used if present, else its `handler` export.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isStreamingHandler } from './awslambda-global.mjs';

const EXTENSIONS = ['.mjs', '.js', '.cjs'];

export class LoadError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export function parseHandler(codeDir, handler) {
  const spec = handler || 'index';
  if (EXTENSIONS.includes(path.extname(spec)))
    return { file: path.resolve(codeDir, spec), exportName: undefined };
  const whole = findFile(codeDir, spec);
  if (whole) return { file: whole, exportName: undefined };
  const dot = spec.lastIndexOf('.');
  if (dot > 0 && !spec.slice(dot).includes('/')) {
    const file = findFile(codeDir, spec.slice(0, dot));
    if (file) return { file, exportName: spec.slice(dot + 1) };
  }
  throw new LoadError(
    'handler_not_found',
    `no module for handler "${spec}" in ${codeDir} (tried ${EXTENSIONS.join(', ')})`,
  );
}

function findFile(codeDir, base) {
  for (const ext of EXTENSIONS) {
    const file = path.resolve(codeDir, base + ext);
    if (existsSync(file)) return file;
  }
  return undefined;
}

export const EVENT_FORMATS = ['2.0', '1.0'];

/**
 * What serves a handler: `{http(req, res, call), raw?(req, res, call)}`, or undefined if the
 * value is no handler. Only the code for that kind of handler is loaded (each module costs
 * cold-start time): options are `{eventFormat, info}`, info the function's
 * `{name, version, memoryMb}` from /init.
 */
export async function invokerFor(value, { eventFormat = '2.0', info }) {
  if (typeof value?.fetch === 'function') return (await import('./fetch-style.mjs')).fetchInvoker(value);
  if (typeof value !== 'function') return undefined;
  // Each import names its module literally, so the shim's bundler sees both (recipe.json).
  const format =
    eventFormat === '1.0' ? await import('./api-gateway-v1.mjs') : await import('./api-gateway-v2.mjs');
  if (isStreamingHandler(value)) {
    return (await import('./lambda-stream.mjs')).streamingInvoker(value, { format, info });
  }
  return (await import('./lambda-style.mjs')).lambdaInvoker(value, { format, info });
}

// `source` names the user's file when `handler` points at Kiln's bundle of it.
export async function loadHandler(codeDir, handler, options, source) {
  const { file, exportName } = parseHandler(codeDir, handler);
  const shown = source ?? path.relative(codeDir, file);
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    const stack = String(err?.stack ?? err)
      .split('\n')
      .slice(0, 8)
      .join('\n');
    throw new LoadError('handler_load_failed', `loading ${shown} failed: ${stack}`);
  }
  // A CommonJS module bundled as ESM exposes `module.exports` as the default export.
  const def = mod.default;
  if (exportName) {
    const invoker = await invokerFor(mod[exportName] ?? def?.[exportName], options);
    if (invoker) return invoker;
    throw new LoadError('handler_not_found', `${shown} has no export "${exportName}" that is a function`);
  }
  const invoker =
    (await invokerFor(def?.fetch ? def : undefined, options)) ??
    (await invokerFor(mod.handler ?? def?.handler ?? (typeof def === 'function' ? def : undefined), options));
  if (invoker) return invoker;
  throw new LoadError(
    'handler_not_found',
    `${shown} exports neither a default object with fetch(request) nor a handler(event, context) function`,
  );
}
