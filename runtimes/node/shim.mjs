// The shim protocol (SHIM-PROTOCOL.md §2-§5) over any HTTP server that calls `serve(req, res)`:
// `POST /init` once, then every request is the user's; `x-kiln-*` headers carry the request
// id, the deadline, raw invokes and health probes, and are never shown to the handler.
import { compactHeap, PREWARMED_PASSES } from './heap-compaction.mjs';
import { ResponseClosed } from './http-lite.mjs';
import { logError, patchConsole, runAsRequest, setConcurrency } from './lambda-console.mjs';
import { EVENT_FORMATS, invokerFor, LoadError, loadHandler } from './loader.mjs';
import { internalServerError, MalformedResult, shimError } from './respond.mjs';

const DEFAULT_TIMEOUT_MS = 30_000;

/** Take the `x-kiln-*` headers off a request: `{requestId, deadline, invoke, health}`. */
export function takeKilnHeaders(req) {
  const kiln = {};
  const raw = req.rawHeaders;
  let kept;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i].toLowerCase();
    if (key.startsWith('x-kiln-')) {
      kept ??= raw.slice(0, i);
      kiln[key.slice(7)] = raw[i + 1];
      delete req.headers[key];
    } else if (kept) {
      kept.push(raw[i], raw[i + 1]);
    }
  }
  if (kept) req.rawHeaders = kept;
  return {
    requestId: kiln['request-id'],
    deadline: Number(kiln.deadline) || undefined,
    invoke: kiln.invoke,
    health: kiln.health,
  };
}

export class Shim {
  constructor() {
    this.invoker = undefined;
    this.info = {
      name: process.env.AWS_LAMBDA_FUNCTION_NAME ?? process.env.KILN_FUNCTION ?? 'function',
      version: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? process.env.KILN_VERSION ?? '$LATEST',
    };
    this.transports = [];
    this.serve = this.serve.bind(this);
  }

  /**
   * Load the handler: `{handler, source, env, codeDir, function, eventFormat, concurrency,
   * prewarmed}`. A prewarmed instance (no request waits on its start) compacts its heap before
   * it answers: it is idle from then on, and the gateway freezes it (heap-compaction.mjs).
   */
  async init({
    handler,
    source,
    env = {},
    codeDir = '/fn',
    function: fn,
    eventFormat,
    concurrency,
    prewarmed,
  }) {
    // The shim's own variables (KILN_LISTEN_FD, KILN_WARMUP, an image's KILN_HANDLER) were read
    // at boot; the function sees Lambda's environment only, the same after a cold or stem start.
    for (const key of Object.keys(process.env)) if (key.startsWith('KILN_')) delete process.env[key];
    Object.assign(process.env, env);
    patchConsole();
    setConcurrency(concurrency);
    if (fn) this.info = { ...this.info, ...fn };
    if (eventFormat !== undefined && !EVENT_FORMATS.includes(eventFormat)) {
      throw new LoadError(
        'invalid_event_format',
        `eventFormat must be "2.0" or "1.0", got ${JSON.stringify(eventFormat)}`,
      );
    }
    this.invoker = await loadHandler(codeDir, handler, { eventFormat, info: this.info }, source);
    if (prewarmed === true) compactHeap(PREWARMED_PASSES);
  }

  /** A handler is loaded: requests are the user's. */
  get initialized() {
    return this.invoker !== undefined;
  }

  /** Serve an in-memory handler (the warm-up's). */
  async use(value, eventFormat) {
    this.invoker = await invokerFor(value, { eventFormat, info: this.info });
  }

  async serve(req, res) {
    const kiln = takeKilnHeaders(req);
    if (kiln.health === '1') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    if (!this.invoker) {
      await this.initRequest(req, res);
      return;
    }
    const call = {
      requestId: kiln.requestId ?? globalThis.crypto.randomUUID(),
      deadline: kiln.deadline ?? Date.now() + DEFAULT_TIMEOUT_MS,
    };
    await runAsRequest(call.requestId, () => this.invoke(req, res, call, kiln.invoke === 'raw'));
  }

  async invoke(req, res, call, raw) {
    try {
      if (!raw) await this.invoker.http(req, res, call);
      else if (this.invoker.raw) await this.invoker.raw(req, res, call);
      else {
        shimError(
          res,
          400,
          'raw_invoke_unsupported',
          'a fetch-style handler takes HTTP requests, not raw events',
        );
      }
    } catch (err) {
      // The client went away mid-response: nothing to answer, nothing to log.
      if (err instanceof ResponseClosed) {
        if (!res.finished) res.abort();
        return;
      }
      const malformed = err instanceof MalformedResult;
      if (malformed) console.error(err.message);
      else logError('Invoke Error', err);
      // Once a streamed response has begun, cutting it short is the only honest signal left.
      if (res.headersSent) res.abort();
      else internalServerError(res, malformed ? 'invalid_result' : 'handler_error');
    }
  }

  async initRequest(req, res) {
    if (req.method !== 'POST' || req.url !== '/init') {
      shimError(res, 503, 'not_initialized', 'the function has not been loaded yet (POST /init first)');
      return;
    }
    let body;
    try {
      body = JSON.parse(req.body.toString('utf8') || '{}');
    } catch (err) {
      shimError(res, 400, 'invalid_init', `the /init body is not JSON: ${err.message}`);
      return;
    }
    try {
      await this.init(body);
      // `transports`: the connections besides HTTP/1.1 this shim takes (mux-frames.mjs).
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: true, transports: this.transports }));
    } catch (err) {
      this.invoker = undefined;
      const code = err instanceof LoadError ? err.code : 'handler_load_failed';
      shimError(res, 400, code, err?.message ?? String(err));
    }
  }
}
