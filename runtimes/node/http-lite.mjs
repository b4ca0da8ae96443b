// Just enough HTTP/1.1 for the shim (SHIM-PROTOCOL.md §6), on node:net: measured in the image,
// importing node:http costs ~24 ms of every cold start, node:net ~3.5 ms. Requests are read
// whole (head capped at 64 KiB, body at maxBodyBytes) and answered one at a time per
// connection, in order (pipelining); connections are served side by side on the event loop,
// so a slow or half-sent request only ever holds up its own connection.
import net from 'node:net';
import { bodyFraming, ChunkedDecoder, HttpError, MAX_HEAD_BYTES, parseHead } from './http-parser.mjs';

const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024; // Lambda's synchronous payload limit
// Bytes of pipelined requests held while one is answered before the socket stops reading.
const QUEUE_LIMIT = 1024 * 1024;
// How long a connection the shim refused may linger while the client finishes sending:
// closing at once, with its bytes unread, makes the kernel send a reset instead of the answer.
const LINGER_MS = 5000;

/** The response is over (answered, or its client gone): nothing more to send, nothing to log. */
export class ResponseClosed extends Error {
  constructor() {
    super('the response is closed');
  }
}

const REASONS = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
// Framing is the shim's to write; a handler's own values would corrupt the connection.
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade']);

/**
 * One response. Either `writeHead(...).end(body)` (sent with content-length), or
 * `writeHead(...)`, `await write(chunk)`... `await finish()` (sent chunked as produced).
 */
export class LiteResponse {
  constructor(socket, req) {
    this.socket = socket;
    this.isHead = req.method === 'HEAD';
    this.http10 = req.httpVersion === '1.0';
    const connection = (req.headers.connection ?? '').toLowerCase();
    this.keepAlive = this.http10 ? /\bkeep-alive\b/.test(connection) : !/\bclose\b/.test(connection);
    this.status = 200;
    this.headers = {};
    this.headersSent = false;
    this.finished = false;
    this.chunked = false;
  }

  writeHead(status, headers = {}) {
    this.status = status;
    this.headers = headers;
    return this;
  }

  /** The whole response at once. */
  end(body) {
    if (this.finished) return;
    const data = bodyBytes(body);
    const noBody = bodyless(this.status);
    const head = Buffer.from(this.headText(noBody ? '' : `content-length: ${data.length}\r\n`), 'latin1');
    this.headersSent = true;
    this.finished = true;
    this.socket.write(this.isHead || noBody || !data.length ? head : Buffer.concat([head, data]));
  }

  /** One chunk of a streamed body, sent now; resolves when the socket can take more. */
  async write(chunk) {
    if (this.finished || this.socket.destroyed) throw new ResponseClosed();
    if (!this.headersSent) this.sendStreamHead();
    if (this.isHead || bodyless(this.status) || !chunk.length) return;
    if (this.chunked) {
      this.socket.cork();
      this.socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      this.socket.write(chunk);
      this.socket.write('\r\n', 'latin1');
      this.socket.uncork();
    } else {
      this.socket.write(chunk);
    }
    if (this.socket.writableNeedDrain) await drained(this.socket);
  }

  /** The end of a streamed body. */
  async finish() {
    if (this.finished || this.socket.destroyed) throw new ResponseClosed();
    if (!this.headersSent) this.sendStreamHead();
    if (this.chunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.finished = true;
  }

  /** Cut a response short: the client sees it incomplete, not as a success. */
  abort() {
    this.finished = true;
    this.socket.destroy();
  }

  sendStreamHead() {
    const hasBody = !this.isHead && !bodyless(this.status);
    this.chunked = hasBody && !this.http10;
    // HTTP/1.0 has no chunked coding: the body ends when the connection does.
    if (hasBody && this.http10) this.keepAlive = false;
    const head = this.headText(this.chunked ? 'transfer-encoding: chunked\r\n' : '');
    this.headersSent = true;
    this.socket.write(head, 'latin1');
  }

  headText(framing) {
    const status = checkedStatus(this.status);
    let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
    eachHeader(this.headers, (name, value) => {
      head += `${name}: ${value}\r\n`;
    });
    head += framing;
    if (!this.keepAlive) head += 'connection: close\r\n';
    else if (this.http10) head += 'connection: keep-alive\r\n';
    return `${head}\r\n`;
  }
}

/** A handler's status code, refused (TypeError, so the shim answers 500) unless 200-999. */
export function checkedStatus(status) {
  if (!Number.isInteger(status) || status < 200 || status > 999) {
    throw new TypeError(`invalid HTTP status code: ${String(status).slice(0, 40)}`);
  }
  return status;
}

/**
 * Each header a handler set, as `emit(name, value)`: framing headers skipped (they are the
 * shim's to write), a name or value that would corrupt the response refused with a TypeError.
 */
export function eachHeader(headers, emit) {
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined || FRAMING.has(name.toLowerCase())) continue;
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    for (const v of Array.isArray(value) ? value : [value]) {
      const text = String(v);
      if (INVALID_VALUE.test(text)) throw new TypeError(`invalid value for header ${name}`);
      emit(name, text);
    }
  }
}

/** A body given to `end()` as bytes. */
export function bodyBytes(body) {
  return body === undefined || body === null
    ? EMPTY
    : typeof body === 'string'
      ? Buffer.from(body)
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

export const bodyless = (status) => status === 204 || status === 304;

function drained(socket) {
  return new Promise((resolve, reject) => {
    const ok = () => {
      socket.off('close', gone);
      resolve();
    };
    const gone = () => {
      socket.off('drain', ok);
      reject(new ResponseClosed());
    };
    socket.once('drain', ok);
    socket.once('close', gone);
  });
}

/** Reads requests off one connection and answers them in order. */
class Connection {
  constructor(socket, handler, maxBodyBytes, mux) {
    this.socket = socket;
    this.handler = handler;
    this.maxBodyBytes = maxBodyBytes;
    // Until the first bytes show whether this is the gateway's multiplexed connection.
    this.mux = mux;
    this.pending = EMPTY; // an incomplete request head
    this.scanned = 0; // bytes of `pending` already searched for the head's end
    this.req = undefined; // the request whose body is being read
    this.body = undefined; // {need, got, parts} or a ChunkedDecoder
    this.busy = false; // a request is being answered
    this.queued = []; // bytes that arrived meanwhile (pipelined requests)
    this.queuedBytes = 0;
    this.closing = false;
    this.peerEnded = false;
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => socket.destroy());
  }

  onData(chunk) {
    if (this.closing) return;
    if (this.mux) {
      chunk = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
      this.pending = EMPTY;
      const { preface, accept } = this.mux;
      const n = Math.min(chunk.length, preface.length);
      if (chunk.compare(preface, 0, n, 0, n) === 0) {
        if (chunk.length < preface.length) {
          this.pending = chunk;
          return;
        }
        this.socket.removeAllListeners('data');
        this.socket.removeAllListeners('end');
        accept(this.socket, chunk.subarray(preface.length));
        return;
      }
      this.mux = undefined;
    }
    if (this.busy) this.queue(chunk);
    else this.feed(chunk);
  }

  onEnd() {
    this.peerEnded = true;
    // The client sent all it will: answer what is in flight, then close.
    if (!this.busy) this.close();
  }

  queue(chunk) {
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > QUEUE_LIMIT) this.socket.pause();
  }

  feed(buf) {
    try {
      while (buf.length && !this.busy && !this.closing) {
        buf = this.req ? this.readBody(buf) : this.readHead(buf);
      }
    } catch (err) {
      this.refuse(err);
      return;
    }
    if (buf.length && this.busy) this.queue(buf);
  }

  readHead(buf) {
    if (this.pending.length) buf = Buffer.concat([this.pending, buf]);
    this.pending = EMPTY;
    // Empty lines before a request line are ignored (RFC 9112 §2.2).
    let start = 0;
    while (buf[start] === 13 && buf[start + 1] === 10) start += 2;
    if (start) buf = buf.subarray(start);
    const end = buf.indexOf(HEAD_END, Math.max(0, this.scanned - 3));
    if (end < 0 || end > MAX_HEAD_BYTES) {
      if (buf.length > MAX_HEAD_BYTES) {
        throw new HttpError(
          431,
          'request_head_too_large',
          `the request head is larger than ${MAX_HEAD_BYTES} bytes`,
        );
      }
      this.pending = buf;
      this.scanned = buf.length;
      return EMPTY;
    }
    this.scanned = 0;
    const req = parseHead(buf, end);
    const framing = bodyFraming(req.headers, this.maxBodyBytes);
    req.remoteAddress = this.socket.remoteAddress;
    const rest = buf.subarray(end + 4);
    if (!framing.chunked && framing.length === 0) {
      req.body = EMPTY;
      this.dispatch(req);
      return rest;
    }
    this.req = req;
    this.body = framing.chunked
      ? new ChunkedDecoder(this.maxBodyBytes)
      : { need: framing.length, got: 0, parts: [] };
    // The client waits for this before it sends the body (RFC 9110 §10.1.1); earlier
    // requests on this connection are answered by now, so it cannot be taken for theirs.
    if (!rest.length && req.httpVersion === '1.1' && /100-continue/i.test(req.headers.expect ?? '')) {
      this.socket.write(CONTINUE, 'latin1');
    }
    return rest;
  }

  readBody(buf) {
    const body = this.body;
    let rest;
    let data;
    if (body instanceof ChunkedDecoder) {
      const at = body.push(buf);
      if (at < 0) return EMPTY;
      rest = buf.subarray(at);
      data = body.body();
    } else {
      const take = Math.min(body.need - body.got, buf.length);
      body.parts.push(buf.subarray(0, take));
      body.got += take;
      if (body.got < body.need) return EMPTY;
      rest = buf.subarray(take);
      data = body.parts.length === 1 ? body.parts[0] : Buffer.concat(body.parts, body.got);
    }
    const req = this.req;
    this.req = undefined;
    this.body = undefined;
    req.body = data;
    this.dispatch(req);
    return rest;
  }

  dispatch(req) {
    this.busy = true;
    void this.answer(req);
  }

  async answer(req) {
    const res = new LiteResponse(this.socket, req);
    try {
      await this.handler(req, res);
    } catch {
      // The handler answers its own errors; one escaping here is the shim's bug.
      res.abort();
    }
    if (!res.finished) res.abort();
    if (!res.keepAlive || this.socket.destroyed) {
      this.close();
      return;
    }
    this.busy = false;
    const queued = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    if (this.socket.isPaused()) this.socket.resume();
    if (queued.length) this.feed(queued.length === 1 ? queued[0] : Buffer.concat(queued));
    // A client that shut its side after pipelining gets every answer, then the close.
    if (this.peerEnded && !this.busy) this.close();
  }

  /** Answer a request the shim cannot read, then close: its framing cannot be trusted. */
  refuse(err) {
    const status = err instanceof HttpError ? err.status : 400;
    const code = err instanceof HttpError ? err.code : 'bad_request';
    const body = JSON.stringify({ error: { code, message: err.message } });
    this.socket.write(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\ncontent-type: application/json\r\nx-kiln-error: ${code}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    this.close();
  }

  close() {
    if (this.closing) return;
    this.closing = true;
    this.queued = [];
    this.socket.end();
    if (this.socket.isPaused()) this.socket.resume();
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS);
    linger.unref();
    this.socket.once('close', () => clearTimeout(linger));
  }
}

/**
 * A server calling `handler(req, res)` for each request, one at a time per connection. A
 * connection that opens with `mux.preface` is handed to `mux.accept(socket, restOfItsBytes)`.
 */
export function createServer(handler, { maxBodyBytes = DEFAULT_MAX_BODY_BYTES, mux } = {}) {
  // allowHalfOpen: a client may send its request and shut its side down (curl, `nc -N`); the
  // answer must still be written before the shim closes the connection.
  return net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    new Connection(socket, handler, maxBodyBytes, mux);
  });
}
