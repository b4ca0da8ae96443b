// Lambda response streaming (AWS, "Response streaming for Lambda functions"; the runtime
// interface client's ResponseStream.js): a handler marked by `awslambda.streamifyResponse` gets
// `(event, responseStream, context)`. If it wrapped the stream with HttpResponseStream.from, a
// JSON prelude and 8 NUL bytes come before the body, which a function URL turns into the status
// and headers; the shim does the same, and writes every chunk to the client as it is written.
import { Writable } from 'node:stream';
import { DELIMITER, highWaterMarkOf, PRELUDE_TYPE } from './awslambda-global.mjs';
import { createContext, functionFacts } from './lambda-context.mjs';
import { answerFunctionError, rawEvent } from './lambda-style.mjs';

const MAX_PRELUDE = 64 * 1024;

/**
 * The `responseStream` a handler writes: a node Writable (so `pipeline(source, stream)` works)
 * with Lambda's `setContentType`. In HTTP mode a prelude, if the content type announces one,
 * becomes the response's status and headers; in raw mode the bytes go out as they are.
 */
class ResponseStream extends Writable {
  constructor(res, httpIntegration, highWaterMark) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
    this.res = res;
    this.httpIntegration = httpIntegration;
    this.contentType = 'application/octet-stream';
    this.started = false;
    this.prelude = undefined; // bytes of a prelude still being read
    // An error also rejects the handler's pipeline or surfaces through `finished()`: an
    // 'error' event nobody listens to must not take the process down.
    this.on('error', () => {});
  }

  setContentType(contentType) {
    if (this.started) throw new Error('Cannot set content-type, too late.');
    this.contentType = contentType;
  }

  // Lambda's stream JSON-encodes chunks that are neither text nor bytes.
  write(chunk, encoding, callback) {
    this.beforeFirstWrite();
    return super.write(asBytes(chunk), encoding, callback);
  }

  end(chunk, encoding, callback) {
    this.beforeFirstWrite();
    if (typeof chunk === 'function' || chunk === undefined || chunk === null)
      return super.end(chunk, encoding, callback);
    return super.end(asBytes(chunk), encoding, callback);
  }

  beforeFirstWrite() {
    if (this.started) return;
    this.started = true;
    if (this.httpIntegration && this.contentType === PRELUDE_TYPE) this.prelude = Buffer.alloc(0);
    if (typeof this._onBeforeFirstWrite === 'function') this._onBeforeFirstWrite((c) => super.write(c));
  }

  _write(chunk, _encoding, callback) {
    this.deliver(chunk).then(() => callback(), callback);
  }

  _final(callback) {
    this.deliver(undefined).then(() => callback(), callback);
  }

  async deliver(chunk) {
    if (this.prelude) {
      if (chunk === undefined) throw new Error('the response stream ended inside its HTTP prelude');
      this.prelude = Buffer.concat([this.prelude, chunk]);
      const at = this.prelude.indexOf(DELIMITER);
      if (at < 0) {
        if (this.prelude.length > MAX_PRELUDE) throw new Error('the HTTP prelude has no end');
        return;
      }
      const meta = JSON.parse(this.prelude.toString('utf8', 0, at));
      chunk = this.prelude.subarray(at + DELIMITER.length);
      this.prelude = undefined;
      this.sendHead(meta);
    } else if (!this.res.headersSent) {
      this.sendHead(undefined);
    }
    if (chunk === undefined) await this.res.finish();
    else await this.res.write(chunk);
  }

  sendHead(meta) {
    const headers = {};
    for (const [k, v] of Object.entries(meta?.headers ?? {})) headers[k.toLowerCase()] = String(v);
    if (Array.isArray(meta?.cookies) && meta.cookies.length) headers['set-cookie'] = meta.cookies.map(String);
    if (!meta) headers['content-type'] = this.contentType;
    this.res.writeHead(Number(meta?.statusCode ?? 200), headers);
  }
}

function asBytes(chunk) {
  if (typeof chunk === 'string' || chunk instanceof Uint8Array) return chunk;
  return JSON.stringify(chunk);
}

/** Run a streaming handler to the end of its stream, with the checks Lambda's runtime makes. */
async function runStreaming(handler, event, stream, context) {
  const ret = handler(event, stream, context);
  if (!ret || typeof ret.then !== 'function') {
    throw new Error('Streaming does not support non-async handlers.');
  }
  if ((await ret) !== undefined) console.warn('Streaming handlers ignore return values.');
  if (!stream.writableEnded) throw new Error('Response stream is not finished.');
  if (!stream.writableFinished) {
    await new Promise((resolve, reject) => {
      if (stream.errored) reject(stream.errored);
      stream.once('finish', resolve);
      stream.once('error', reject);
    });
  }
}

export function streamingInvoker(handler, { format, info }) {
  // Read once: /init applied Lambda's environment before the handler loaded.
  const facts = functionFacts(process.env, info);
  const highWaterMark = highWaterMarkOf(handler);
  return {
    async http(req, res, call) {
      const event = format.buildEvent(req, call.requestId);
      const stream = new ResponseStream(res, true, highWaterMark);
      await runStreaming(handler, event, stream, createContext(facts, call.requestId, call.deadline));
    },

    async raw(req, res, call) {
      const parsed = rawEvent(req, res);
      if (!parsed) return;
      const stream = new ResponseStream(res, false, highWaterMark);
      try {
        await runStreaming(
          handler,
          parsed.event,
          stream,
          createContext(facts, call.requestId, call.deadline),
        );
      } catch (err) {
        if (res.headersSent) throw err;
        answerFunctionError(res, err);
      }
    },
  };
}
