// The shim's side of the gateway's multiplexed connection (docs/DESIGN.md §5): every request
// the instance runs at once shares one unix socket, as frames (mux-frames.mjs). The frames
// that are ready when the event loop turns leave in one write, so requests arriving together
// cost the shim one read and one write, not one of each per request: on this 2-vCPU
// Firecracker VM a write that wakes the gateway costs tens of µs (issue 9's profile had 35-45%
// of the gateway's CPU in write/writev at 64 connections, one connection per request).
//
// Requests are handed to the handler whole, as over HTTP (http-lite.mjs): same `req` shape,
// same response methods, same body cap.
import { bodyBytes, bodyless, checkedStatus, eachHeader, ResponseClosed } from './http-lite.mjs';
import {
  BODY,
  CANCEL,
  CREDIT,
  DATA,
  END,
  FrameReader,
  frame,
  HAS_BODY,
  HEAD,
  headPayload,
  MAX_CHUNK,
  MAX_HEAD,
  REQUEST,
  RESET,
  splitHeadPayload,
  WINDOW,
} from './mux-frames.mjs';
import { shimError } from './respond.mjs';

/** One gateway connection: reads request frames, runs each request, writes their frames. */
export class MuxConnection {
  constructor(socket, handler, maxBodyBytes, first) {
    this.socket = socket;
    this.handler = handler;
    this.maxBodyBytes = maxBodyBytes;
    /** id -> the request being received (`{req, parts, size}`) or answered (`{res}`). */
    this.streams = new Map();
    this.out = [];
    this.flushing = false;
    this.drainWaiters = [];
    this.flush = () => this.writeOut();
    this.reader = new FrameReader((type, flags, id, payload) => this.onFrame(type, flags, id, payload));
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => socket.destroy());
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.onDrain());
    if (first.length) this.onData(first);
  }

  onData(chunk) {
    // A frame too large to be the gateway's: the connection is out of step.
    if (!this.reader.push(chunk)) this.socket.destroy();
  }

  onFrame(type, flags, id, payload) {
    switch (type) {
      case REQUEST:
        return this.onRequest(flags, id, payload);
      case BODY: {
        const s = this.streams.get(id);
        if (s?.req) this.onBody(id, s, payload, flags & END);
        return;
      }
      case CANCEL:
        this.streams.get(id)?.res?.close();
        this.streams.delete(id);
        return;
      case CREDIT:
        if (payload.length === 4) this.streams.get(id)?.res?.credit(payload.readUInt32BE(0));
        return;
      default:
        this.socket.destroy();
    }
  }

  onRequest(flags, id, payload) {
    const split = splitHeadPayload(payload);
    const lines = split?.text.split('\n');
    if (!lines || lines.length < 2 || lines.length % 2 || this.streams.has(id)) {
      this.socket.destroy();
      return;
    }
    const rawHeaders = lines.slice(2);
    const headers = {};
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const key = rawHeaders[i];
      headers[key] = key in headers ? `${headers[key]}, ${rawHeaders[i + 1]}` : rawHeaders[i + 1];
    }
    const req = { method: lines[0], url: lines[1], httpVersion: '1.1', headers, rawHeaders, body: undefined };
    const s = { req, parts: [], size: 0, res: undefined, hasBody: (flags & HAS_BODY) !== 0 };
    this.streams.set(id, s);
    this.onBody(id, s, split.body, flags & END);
  }

  onBody(id, s, chunk, end) {
    if (chunk.length) {
      s.size += chunk.length;
      if (s.size > this.maxBodyBytes) {
        // The rest of its body is dropped as it comes (the stream is gone); the answer goes now.
        s.req = undefined;
        const res = this.respond(id, { method: 'POST' });
        shimError(
          res,
          413,
          'request_too_large',
          `the request body is larger than ${this.maxBodyBytes} bytes`,
        );
        return;
      }
      s.parts.push(chunk);
    }
    if (!end) return;
    const req = s.req;
    s.req = undefined;
    req.body = s.parts.length === 1 ? s.parts[0] : Buffer.concat(s.parts, s.size);
    s.parts = undefined;
    // As the body's HTTP framing would have told it (the gateway passes no framing headers).
    if (s.hasBody) {
      req.headers['content-length'] = String(s.size);
      req.rawHeaders.push('content-length', String(s.size));
    }
    const res = this.respond(id, req);
    void this.answer(res, req);
  }

  respond(id, req) {
    const res = new MuxResponse(this, id, req);
    this.streams.set(id, { req: undefined, res });
    return res;
  }

  async answer(res, req) {
    try {
      await this.handler(req, res);
    } catch {
      // The handler answers its own errors; one escaping here is the shim's bug.
      res.abort();
    }
    if (!res.finished) res.abort();
  }

  /** Queue a frame's buffers; everything queued in this turn of the event loop leaves in one write. */
  send(buffers) {
    for (const b of buffers) this.out.push(b);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flush);
    }
  }

  writeOut() {
    this.flushing = false;
    const out = this.out;
    this.out = [];
    if (this.socket.destroyed || !out.length) return;
    this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
  }

  /** Resolves when the socket can take more (every stream shares its buffer). */
  drained() {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    // One listener for all waiting streams (a listener each would make node warn past 10,
    // into the function's own log).
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  onDrain() {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  done(id) {
    this.streams.delete(id);
    // The last answer in flight: nothing left to batch it with, so it goes now rather than
    // after the turn (a sequential request's ~10 µs).
    if (!this.streams.size) this.writeOut();
  }

  onClose() {
    for (const s of this.streams.values()) s.res?.close();
    this.streams.clear();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w.reject(new ResponseClosed());
  }
}

/** One response on the multiplexed connection, with LiteResponse's methods (http-lite.mjs). */
class MuxResponse {
  constructor(connection, id, req) {
    this.connection = connection;
    this.id = id;
    this.isHead = req.method === 'HEAD';
    this.keepAlive = true;
    this.status = 200;
    this.headers = {};
    this.headersSent = false;
    this.finished = false;
    this.closed = false;
    // The head went with END (HEAD, 204, 304): later writes send nothing.
    this.ended = false;
    this.unacked = 0;
    this.waitingCredit = undefined;
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
    const noBody = this.isHead || bodyless(this.status);
    const text = this.headText(bodyless(this.status) ? '' : String(data.length));
    this.headersSent = true;
    this.finished = true;
    if (this.closed) return;
    if (noBody || data.length <= MAX_CHUNK) {
      this.sendFrame(HEAD, END, headPayload(text, noBody ? undefined : data));
      this.connection.done(this.id);
      return;
    }
    this.sendFrame(HEAD, 0, headPayload(text));
    void this.pump(data).catch(() => undefined);
  }

  /** A large whole body, in chunks the gateway's window lets through. */
  async pump(data) {
    for (let at = 0; at < data.length && !this.closed; at += MAX_CHUNK) {
      await this.sendData(data.subarray(at, at + MAX_CHUNK), at + MAX_CHUNK >= data.length);
    }
    this.connection.done(this.id);
  }

  /** One chunk of a streamed body, sent now; resolves when the stream may send more. */
  async write(chunk) {
    if (this.finished || this.closed) throw new ResponseClosed();
    if (!this.headersSent) this.sendStreamHead();
    if (this.ended || !chunk.length) return;
    for (let at = 0; at < chunk.length; at += MAX_CHUNK) {
      await this.sendData(chunk.subarray(at, at + MAX_CHUNK), false);
    }
  }

  /** The end of a streamed body. */
  async finish() {
    if (this.finished || this.closed) throw new ResponseClosed();
    if (!this.headersSent) this.sendStreamHead();
    this.finished = true;
    if (!this.ended) this.sendFrame(DATA, END, []);
    this.connection.done(this.id);
  }

  /** Cut a response short: the gateway's client sees it incomplete, not as a success. */
  abort() {
    this.finished = true;
    if (!this.closed) this.sendFrame(RESET, 0, []);
    this.close();
    this.connection.done(this.id);
  }

  /** The gateway gave up on the stream, or the connection went: writes throw from now on. */
  close() {
    this.closed = true;
    this.waitingCredit?.reject(new ResponseClosed());
    this.waitingCredit = undefined;
  }

  credit(n) {
    this.unacked = Math.max(0, this.unacked - n);
    if (this.unacked < WINDOW && this.waitingCredit) {
      const { resolve } = this.waitingCredit;
      this.waitingCredit = undefined;
      resolve();
    }
  }

  async sendData(chunk, last) {
    if (this.closed) throw new ResponseClosed();
    this.sendFrame(DATA, last ? END : 0, [chunk]);
    if (last) return;
    this.unacked += chunk.length;
    if (this.unacked >= WINDOW) {
      await new Promise((resolve, reject) => {
        this.waitingCredit = { resolve, reject };
      });
    }
    await this.connection.drained();
  }

  sendStreamHead() {
    const noBody = this.isHead || bodyless(this.status);
    const text = this.headText('');
    this.headersSent = true;
    this.ended = noBody;
    this.sendFrame(HEAD, noBody ? END : 0, headPayload(text));
  }

  sendFrame(type, flags, payload) {
    this.connection.send(frame(type, flags, this.id, ...payload));
  }

  /** `STATUS\nLENGTH\nname\nvalue...`: LENGTH empty when the body is streamed; names lowercase. */
  headText(length) {
    let text = `${checkedStatus(this.status)}\n${length}`;
    eachHeader(this.headers, (name, value) => {
      text += `\n${name.toLowerCase()}\n${value}`;
    });
    // Refused here, for this request alone (a 500), rather than as a frame the gateway
    // cannot take, which would end the connection every request in flight shares.
    if (text.length > MAX_HEAD) throw new TypeError(`the response headers are larger than ${MAX_HEAD} bytes`);
    return text;
  }
}
