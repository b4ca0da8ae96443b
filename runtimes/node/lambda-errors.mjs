// Errors in the shapes Lambda's Node.js runtime gives them (aws-lambda-nodejs-runtime-interface-
// client, src/Errors.js): the Invoke API's error body, and the JSON of the `Invoke Error` log line.

const looksLikeError = (e) =>
  e instanceof Error ||
  (typeof e?.name === 'string' && typeof e?.message === 'string' && typeof e?.stack === 'string');

/** A thrown value as an Error: what the runtime logs for `throw 'text'`. */
export function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** The Invoke API's answer for a function error: `{errorType, errorMessage, trace}`. */
export function invokeErrorBody(error) {
  try {
    if (looksLikeError(error)) {
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

// Name, message, code and stack are not enumerable: list them first, then the error's own
// fields, the stack as an array of lines.
function withEnumerableProperties(_key, value) {
  if (!(value instanceof Error)) return value;
  const out = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
  if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
  return out;
}

/** What follows the label in an error log line: a tab, then the error as JSON. */
export function formattedError(error) {
  try {
    return `\t${JSON.stringify(error, withEnumerableProperties)}`;
  } catch {
    return `\t${JSON.stringify(invokeErrorBody(error))}`;
  }
}

/** What Lambda logs for a promise rejected with nothing handling it. */
export class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';
