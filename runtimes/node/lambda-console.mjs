// console.* as Lambda's Node.js runtime patches it (aws-lambda-nodejs-runtime-interface-client,
// src/LogPatch.js): every line is `<ISO time>\t<request id>\t<LEVEL>\t<message>` with newlines
// turned into \r so one call stays one line (or a JSON object when AWS_LAMBDA_LOG_FORMAT=JSON),
// filtered by AWS_LAMBDA_LOG_LEVEL. Lambda keeps the request id in a global because it runs one
// request at a time; a shim whose instance runs requests at once keeps it in an
// AsyncLocalStorage, which follows each request through its awaits, timers and callbacks. On
// node 22 that storage costs every promise ~0.3 µs (3x a bare await, measured in the image), so
// an instance with concurrency 1 keeps the global, as Lambda does; and the image runs node with
// --experimental-async-context-frame (recipe.json; node 24's default), which keeps the store in
// V8's continuation data instead of promise hooks: the shim's CPU per request at 64 at once
// went from 35-43 µs to 26 µs (a hello fetch handler, bench's probe over the mux connection).
// Kiln difference: ERROR, WARN, FATAL and TRACE lines go to stderr (as unpatched node writes
// them), INFO and DEBUG to stdout; Lambda writes all of them to one stream.
import { AsyncLocalStorage } from 'node:async_hooks';
import { formattedError, intoError } from './lambda-errors.mjs';

const requestIds = new AsyncLocalStorage();
let concurrent = true;
let currentId;

/** Run `fn` as request `id`: its log lines carry the id. */
export function runAsRequest(id, fn) {
  if (concurrent) return requestIds.run(id, fn);
  currentId = id;
  return fn();
}

function requestId() {
  return concurrent ? requestIds.getStore() : currentId;
}

/** How many requests the instance runs at once (/init's `concurrency`; unknown: many). */
export function setConcurrency(n) {
  concurrent = !(n <= 1);
  if (!concurrent) requestIds.disable();
}

/** Stop the storage's promise hooks (after the warm-up); the next scoped request restarts them. */
export function quiesce() {
  requestIds.disable();
}

const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
const TO_STDERR = new Set(['TRACE', 'WARN', 'ERROR', 'FATAL']);

let utilFormat;
// node:util costs ~2 ms to import at boot (measured in the image): load it on the first line.
function format(...args) {
  utilFormat ??= process.getBuiltinModule('node:util').format;
  return utilFormat(...args);
}

export function textLine(level, message, params) {
  const line = `${new Date().toISOString()}\t${requestId()}\t${level}\t${format(message, ...params)}`;
  return line.replace(/\n/g, '\r');
}

const jsonErrorReplacer = (_key, value) =>
  value instanceof Error
    ? Object.assign(
        {
          errorType: value?.constructor?.name ?? 'UnknownError',
          errorMessage: value.message,
          stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
        },
        value,
      )
    : value;

export function jsonLine(level, message, params) {
  const result = { timestamp: new Date().toISOString(), level, requestId: requestId() };
  let line;
  if (params.length === 0) {
    result.message = message;
    try {
      line = JSON.stringify(result, jsonErrorReplacer);
    } catch {
      result.message = format(result.message);
      line = JSON.stringify(result);
    }
  } else {
    result.message = format(message, ...params);
    const error = [message, ...params].find((p) => p instanceof Error);
    if (error) {
      result.errorType = error?.constructor?.name ?? 'UnknownError';
      result.errorMessage = error.message;
      result.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
    }
    line = JSON.stringify(result);
  }
  return line.replace(/\n/g, '\r');
}

let jsonFormat = false;
let outputsReady = false;

// process.stdout and stderr are made on first use, which costs ~7 ms for two pipes (measured in
// the image on a busy host): not at boot. Write errors (reader gone) are dropped, as node's own
// console does.
function output(toStderr) {
  if (!outputsReady) {
    outputsReady = true;
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  }
  return toStderr ? process.stderr : process.stdout;
}

/** Replace console's methods; again after /init, whose env may set the level or format. */
export function patchConsole(env = process.env) {
  jsonFormat = env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const toLine = jsonFormat ? jsonLine : textLine;
  const min = LEVELS[env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const logger = (level) => {
    if (LEVELS[level] < min && level !== 'FATAL') return () => {};
    const toStderr = TO_STDERR.has(level);
    return (message, ...params) => {
      output(toStderr).write(`${toLine(level, message, params)}\n`);
    };
  };
  console.trace = logger('TRACE');
  console.debug = logger('DEBUG');
  console.info = logger('INFO');
  console.log = console.info;
  console.warn = logger('WARN');
  console.error = logger('ERROR');
  console.fatal = logger('FATAL');
}

/** The runtime's error line: `ERROR\t<label> \t{"errorType":...,"errorMessage":...,"stack":[...]}`. */
export function logError(label, err) {
  if (jsonFormat) console.error(intoError(err));
  else console.error(label, formattedError(intoError(err)));
}
