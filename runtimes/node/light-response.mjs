// A `Response` that stays its constructor's arguments until something looks at it, as
// @hono/node-server's LightweightResponse does. A fetch handler usually returns
// `new Response(text, {status, headers})` and never touches it again; the shim needs only the
// status, the headers and the text, while an undici Response costs, per request, its webidl
// conversions, a HeadersList, a ReadableStream over the body and a TextEncoder pass, and then
// reading that stream back (a fifth of the shim's CPU for a hello handler: CPU profile at 64
// requests in flight, issue 9).
//
// Only the plain case stays light: a string (or no) body, and an init of a status in 200-599
// and a plain object of string headers, checked here as undici would. Anything else -- and any
// use of the object (its headers, body, status, clone(), text(), ...) -- makes the real Response
// at once, with undici's own checks and errors, and the object forwards to it from then on.
// `instanceof Response` holds either way (the prototype chains to undici's).

/** `[status, body, headers]` of a response still light; absent once it is real. */
export const WHOLE = Symbol('kiln.whole');
const REAL = Symbol('kiln.real');

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// undici refuses a value with NUL, CR or LF after trimming (fetch spec, "header value").
const BAD_VALUE = /[\0\r\n]/;
const NULL_BODY = new Set([204, 205, 304]);

/** Whether `init` is what the light path reproduces exactly. */
function plainInit(body, init) {
  if (init === undefined) return true;
  if (init === null || typeof init !== 'object' || Object.getPrototypeOf(init) !== Object.prototype)
    return false;
  for (const key of Object.keys(init)) if (key !== 'status' && key !== 'headers') return false;
  const { status, headers } = init;
  if (status !== undefined && !(Number.isInteger(status) && status >= 200 && status <= 599)) return false;
  // A body with a null-body status is undici's TypeError to throw.
  if (NULL_BODY.has(status) && body !== undefined && body !== null) return false;
  if (headers === undefined) return true;
  if (headers === null || typeof headers !== 'object' || Object.getPrototypeOf(headers) !== Object.prototype)
    return false;
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (typeof value !== 'string' || !TOKEN.test(name) || BAD_VALUE.test(value.trim())) return false;
  }
  return true;
}

/** Install the light `Response` as the global one (once); answers it. */
export function installLightResponse() {
  const Real = globalThis.Response;
  if (Real[WHOLE]) return Real;

  class Response {
    #body;
    #init;
    #real;

    constructor(body, init) {
      if ((typeof body === 'string' || body === undefined || body === null) && plainInit(body, init)) {
        this.#body = body;
        this.#init = init;
        this[WHOLE] = [init?.status ?? 200, body ?? null, init?.headers];
      } else {
        this.#real = new Real(body, init);
      }
    }

    [REAL]() {
      if (!this.#real) {
        delete this[WHOLE];
        this.#real = new Real(this.#body, this.#init);
        this.#body = undefined;
        this.#init = undefined;
      }
      return this.#real;
    }
  }
  Response[WHOLE] = true;
  Object.setPrototypeOf(Response, Real);
  Object.setPrototypeOf(Response.prototype, Real.prototype);
  for (const key of [
    'body',
    'bodyUsed',
    'headers',
    'ok',
    'redirected',
    'status',
    'statusText',
    'type',
    'url',
  ]) {
    Object.defineProperty(Response.prototype, key, {
      get() {
        return this[REAL]()[key];
      },
    });
  }
  for (const key of ['arrayBuffer', 'blob', 'bytes', 'clone', 'formData', 'json', 'text']) {
    if (typeof Real.prototype[key] !== 'function') continue;
    Object.defineProperty(Response.prototype, key, {
      value(...args) {
        const real = this[REAL]();
        return real[key](...args);
      },
      writable: true,
      configurable: true,
    });
  }
  globalThis.Response = Response;
  return Response;
}

/**
 * The status, headers (lowercase names, as a Headers would give them) and body of a light
 * response, or undefined. A string body without a content-type gets undici's default.
 */
export function lightParts(response) {
  const whole = response?.[WHOLE];
  if (!whole) return undefined;
  const [status, body, init] = whole;
  const headers = {};
  if (init) {
    for (const name of Object.keys(init)) {
      const key = name.toLowerCase();
      const value = init[name].trim();
      headers[key] =
        key in headers
          ? key === 'set-cookie'
            ? [headers[key], value].flat()
            : `${headers[key]}, ${value}`
          : value;
    }
  }
  if (typeof body === 'string' && !('content-type' in headers))
    headers['content-type'] = 'text/plain;charset=UTF-8';
  return { status, headers, body };
}
