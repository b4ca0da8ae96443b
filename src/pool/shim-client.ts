import net from 'node:net';
import type { Readable } from 'node:stream';
import { copyRequestBody } from './request-body-copy.js';

/**
 * An HTTP/1.1 client for one instance's shim, over its unix socket (docs/DESIGN.md §5).
 *
 * Why not undici or node:http: the invoke path is a proxy, and both clients build objects
 * per request that a proxy throws away (undici's `Pool` proxy reached 0.30× a bare node
 * server here, `http.request` 0.22×; issue 9). This client parses only what a proxy needs
 * (status, a flat header list, the body's framing), hands body bytes to a `ResponseSink` as
 * they arrive (nothing is buffered beyond one socket read), and streams a request body in
 * with backpressure both ways.
 *
 * Connections are kept alive, one per request the instance may run at once (`maxConnections`
 * = the function's `concurrency`), so requests never queue behind each other on a socket.
 */

/** Where a response goes: the head, then body chunks, then the end. */
export interface ResponseSink {
  /**
   * The response head. `whole` is the complete body when it came with the head (the usual
   * small answer: the proxy can send head and body in one write); then no `onData` follows.
   * `headers` is a flat `[name, value, …]` list with lowercase names, framing headers
   * (`content-length`, `transfer-encoding`, `connection`, `keep-alive` and the headers
   * `Connection` names) removed; the length,
   * when the shim sent one, is `contentLength` (for HEAD, the length a GET would have).
   */
  onHead(
    status: number,
    headers: string[],
    contentLength: number | undefined,
    whole: Buffer | undefined,
  ): void;
  /** A body chunk; `false` pauses the shim's socket until `ShimCall.resume()`. */
  onData(chunk: Buffer): boolean;
  onEnd(): void;
}

export interface ShimRequestHead {
  method: string;
  /** Path and query as the function sees them. */
  path: string;
  /** Flat `[name, value, …]`, lowercase names, without hop-by-hop or framing headers. */
  headers: string[];
}

/** A request body: bytes in hand, or a stream (of known `length`, else sent chunked). */
export type RequestBody =
  | { kind: 'none' }
  | { kind: 'bytes'; bytes: Buffer }
  | { kind: 'stream'; stream: Readable; length: number | undefined; limit: number };

/** What went wrong on the way to or from the shim, named by whose side it is on. */
export class ShimClientError extends Error {
  constructor(
    readonly reason: /** The connection broke or never opened: the shim's process may have died. */
      | 'connection_lost'
      /** No byte from the shim for `idleTimeoutMs` once the request was sent: the function's time. */
      | 'timeout'
      /** The client's body stalled for `idleTimeoutMs`: the client's time, not the function's. */
      | 'body_timeout'
      /** The shim answered something that is not HTTP/1.1. */
      | 'bad_response'
      /** The shim cut the response short itself (its handler failed after the head): it is alive. */
      | 'reset'
      /** The request body passed its limit while streaming. */
      | 'body_too_large'
      /** The client's body stream failed (the client went away). */
      | 'body_aborted'
      /** `ShimCall.abort()`: the gateway gave up (its client went away). */
      | 'aborted',
    message: string,
  ) {
    super(message);
    this.name = 'ShimClientError';
  }
}

export interface ShimCall {
  /** Settles when the response has ended (or failed); the connection is back in the pool by then. */
  readonly done: Promise<void>;
  /** Whether any byte of the response arrived (a failure after that is not a lost request). */
  readonly responded: boolean;
  /** Whether the whole request body went to the shim. */
  readonly bodySent: boolean;
  resume(): void;
  abort(): void;
}

/** How the gateway reaches one instance's shim: HTTP/1.1 (`ShimClient`) or frames (`MuxClient`). */
export interface ShimTransport {
  /** Send one request; its response goes to `sink`. */
  request(head: ShimRequestHead, body: RequestBody, sink: ResponseSink, idleTimeoutMs: number): ShimCall;
  /** Close every connection; requests in flight fail with `connection_lost`. */
  destroy(): void;
}

const MAX_HEAD_BYTES = 64 * 1024;
const CRLF_CRLF = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

export class ShimClient implements ShimTransport {
  private readonly idle: ShimConnection[] = [];
  private open = 0;
  private readonly waiting: ((c: ShimConnection) => void)[] = [];
  private closed = false;

  constructor(
    readonly socketPath: string,
    private maxConnections: number,
  ) {}

  /** Send one request; its response goes to `sink`. */
  request(head: ShimRequestHead, body: RequestBody, sink: ResponseSink, idleTimeoutMs: number): ShimCall {
    const exchange = new Exchange(head, body, sink, idleTimeoutMs);
    if (this.closed) {
      exchange.fail(new ShimClientError('connection_lost', 'the instance is stopping'));
      return exchange;
    }
    const connection = this.idle.pop();
    if (connection) connection.run(exchange);
    else if (this.open < this.maxConnections) this.connect().run(exchange);
    else this.waiting.push((c) => c.run(exchange));
    return exchange;
  }

  /** Close every connection; requests in flight fail with `connection_lost`. */
  destroy(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.destroy();
    for (const c of [...this.busy]) c.destroy();
  }

  private readonly busy = new Set<ShimConnection>();

  private connect(): ShimConnection {
    this.open++;
    return new ShimConnection(net.connect({ path: this.socketPath }), {
      idle: (c) => this.release(c),
      busy: (c) => this.busy.add(c),
      closed: (c) => this.forget(c),
    });
  }

  private release(connection: ShimConnection): void {
    this.busy.delete(connection);
    const next = this.waiting.shift();
    if (next) next(connection);
    else if (this.closed) connection.destroy();
    else this.idle.push(connection);
  }

  private forget(connection: ShimConnection): void {
    this.open--;
    this.busy.delete(connection);
    const i = this.idle.indexOf(connection);
    if (i >= 0) this.idle.splice(i, 1);
    // A request waiting for a slot gets a fresh connection in the closed one's place.
    const next = this.waiting.shift();
    if (next && !this.closed) next(this.connect());
  }
}

interface ConnectionEvents {
  idle(c: ShimConnection): void;
  busy(c: ShimConnection): void;
  closed(c: ShimConnection): void;
}

/** One request and its response, as seen by its caller. */
class Exchange implements ShimCall {
  readonly done: Promise<void>;
  responded = false;
  bodySent = false;
  settled = false;
  connection: ShimConnection | undefined;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;

  constructor(
    readonly head: ShimRequestHead,
    readonly body: RequestBody,
    readonly sink: ResponseSink,
    readonly idleTimeoutMs: number,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  get isHead(): boolean {
    return this.head.method === 'HEAD';
  }

  succeed(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveDone();
  }

  fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectDone(err);
  }

  resume(): void {
    this.connection?.resumeReading();
  }

  abort(): void {
    if (this.settled) return;
    this.fail(new ShimClientError('aborted', 'the request was abandoned by the gateway'));
    this.connection?.destroy();
  }
}

type ParseState = 'head' | 'fixed' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'until-close';

/** One keep-alive connection to the shim: writes a request, parses its response. */
class ShimConnection {
  private current: Exchange | undefined;
  private buffered: Buffer | undefined;
  private state: ParseState = 'head';
  private remaining = 0;
  private reusable = true;
  private dead = false;
  /** Stops copying the client's body (set while one streams). */
  private stopBody: (() => void) | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly events: ConnectionEvents,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('timeout', () => this.onTimeout());
    socket.on('close', () => this.onClose());
    socket.on('end', () => this.onEnd());
  }

  run(exchange: Exchange): void {
    if (this.dead) {
      exchange.fail(new ShimClientError('connection_lost', 'the connection to the function closed'));
      return;
    }
    this.events.busy(this);
    this.current = exchange;
    exchange.connection = this;
    this.state = 'head';
    this.reusable = true;
    this.socket.setTimeout(exchange.idleTimeoutMs);
    const { head, body } = exchange;
    let text = `${head.method} ${head.path} HTTP/1.1\r\n`;
    const h = head.headers;
    for (let i = 0; i < h.length; i += 2) text += `${h[i]}: ${h[i + 1]}\r\n`;
    if (body.kind === 'bytes') {
      text += `content-length: ${body.bytes.length}\r\n\r\n`;
      if (body.bytes.length) {
        this.socket.cork();
        this.socket.write(text, 'latin1');
        this.socket.write(body.bytes);
        this.socket.uncork();
      } else {
        this.socket.write(text, 'latin1');
      }
      exchange.bodySent = true;
    } else if (body.kind === 'none') {
      this.socket.write(`${text}\r\n`, 'latin1');
      exchange.bodySent = true;
    } else {
      const chunked = body.length === undefined;
      text += chunked ? 'transfer-encoding: chunked\r\n\r\n' : `content-length: ${body.length}\r\n\r\n`;
      this.socket.write(text, 'latin1');
      this.streamBody(exchange, body.stream, chunked, body.length ?? body.limit, body.length === undefined);
    }
  }

  /** Copy the client's body to the shim as it arrives, pausing the client when the shim is slow. */
  private streamBody(
    exchange: Exchange,
    stream: Readable,
    chunked: boolean,
    limit: number,
    counted: boolean,
  ): void {
    const socket = this.socket;
    this.stopBody = copyRequestBody(stream, limit, counted, {
      settled: () => exchange.settled || this.current !== exchange,
      write: (chunk) => {
        if (!chunked) return socket.write(chunk);
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        const ok = socket.write('\r\n', 'latin1');
        socket.uncork();
        return ok;
      },
      onDrain: (resume) => {
        socket.once('drain', resume);
        return () => socket.off('drain', resume);
      },
      end: () => {
        if (chunked) socket.write(LAST_CHUNK);
        exchange.bodySent = true;
      },
      fail: (err) => this.failCurrent(err),
    });
  }

  resumeReading(): void {
    if (!this.dead) this.socket.resume();
  }

  destroy(): void {
    if (this.dead) return;
    this.socket.destroy();
    this.onClose();
  }

  private onData(chunk: Buffer): void {
    const exchange = this.current;
    if (!exchange) {
      // Bytes with no request outstanding: the shim is out of step; never reuse this socket.
      this.destroy();
      return;
    }
    exchange.responded = true;
    let data = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = undefined;
    try {
      while (data.length && this.current === exchange) {
        const rest = this.step(exchange, data);
        if (rest === undefined) break;
        data = rest;
      }
    } catch (err) {
      this.failCurrent(
        err instanceof ShimClientError ? err : new ShimClientError('bad_response', (err as Error).message),
      );
    }
  }

  /** Consume what `data` holds for the current state; returns the unconsumed rest, or undefined to wait. */
  private step(exchange: Exchange, data: Buffer): Buffer | undefined {
    switch (this.state) {
      case 'head': {
        const end = data.indexOf(CRLF_CRLF);
        if (end < 0) {
          if (data.length > MAX_HEAD_BYTES)
            throw new ShimClientError('bad_response', 'response head too large');
          this.buffered = data;
          return undefined;
        }
        const rest = data.subarray(end + 4);
        return this.onHeadText(exchange, data.toString('latin1', 0, end), rest);
      }
      case 'fixed': {
        const n = Math.min(this.remaining, data.length);
        this.remaining -= n;
        const piece = n === data.length ? data : data.subarray(0, n);
        const last = this.remaining === 0;
        if (piece.length) this.deliver(exchange, piece);
        if (last) this.complete(exchange, data.length > n);
        return undefined;
      }
      case 'until-close':
        this.deliver(exchange, data);
        return undefined;
      case 'chunk-size': {
        const eol = data.indexOf(10);
        if (eol < 0) {
          if (data.length > 4096) throw new ShimClientError('bad_response', 'chunk size line too long');
          this.buffered = data;
          return undefined;
        }
        const line = data.toString('latin1', 0, eol).replace(/\r$/, '');
        const sizeText = line.split(';', 1)[0]!.trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText))
          throw new ShimClientError('bad_response', 'bad chunk size');
        const size = Number.parseInt(sizeText, 16);
        this.remaining = size;
        this.state = size === 0 ? 'trailers' : 'chunk-data';
        return data.subarray(eol + 1);
      }
      case 'chunk-data': {
        const n = Math.min(this.remaining, data.length);
        this.remaining -= n;
        this.deliver(exchange, n === data.length ? data : data.subarray(0, n));
        if (this.remaining === 0) this.state = 'chunk-crlf';
        return n === data.length ? undefined : data.subarray(n);
      }
      case 'chunk-crlf': {
        if (data.length < 2 && data[0] === 13) {
          this.buffered = data;
          return undefined;
        }
        if (data[0] === 10) data = data.subarray(1);
        else if (data[0] === 13 && data[1] === 10) data = data.subarray(2);
        else throw new ShimClientError('bad_response', 'chunk not followed by CRLF');
        this.state = 'chunk-size';
        return data;
      }
      case 'trailers': {
        // Trailer fields are hop-by-hop for a proxy (RFC 9110 §6.5): read and dropped.
        const eol = data.indexOf(10);
        if (eol < 0) {
          if (data.length > MAX_HEAD_BYTES) throw new ShimClientError('bad_response', 'trailers too large');
          this.buffered = data;
          return undefined;
        }
        const line = data.toString('latin1', 0, eol).replace(/\r$/, '');
        const rest = data.subarray(eol + 1);
        if (line === '') {
          this.complete(exchange, rest.length > 0);
          return undefined;
        }
        return rest;
      }
    }
  }

  private onHeadText(exchange: Exchange, text: string, rest: Buffer): Buffer | undefined {
    const lines = text.split('\r\n');
    const statusLine = lines[0]!;
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(statusLine);
    if (!m)
      throw new ShimClientError('bad_response', `bad status line ${JSON.stringify(statusLine.slice(0, 80))}`);
    const status = Number(m[2]);
    const http10 = m[1] === '0';
    const headers: string[] = [];
    let contentLength: number | undefined;
    let chunked = false;
    let close = http10;
    let named: Set<string> | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ShimClientError('bad_response', 'bad header line');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      switch (name) {
        case 'content-length':
          if (!/^\d{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== Number(value)))
            throw new ShimClientError('bad_response', 'bad content-length');
          contentLength = Number(value);
          break;
        case 'transfer-encoding':
          if (value.toLowerCase() !== 'chunked')
            throw new ShimClientError('bad_response', 'unsupported transfer-encoding');
          chunked = true;
          break;
        case 'connection':
          if (/\bclose\b/i.test(value)) close = true;
          else if (http10 && /\bkeep-alive\b/i.test(value)) close = false;
          named ??= new Set();
          for (const token of value.split(',')) named.add(token.trim().toLowerCase());
          break;
        case 'keep-alive':
          break;
        default:
          headers.push(name, value);
      }
    }
    if (named) {
      // Headers the `Connection` header names are this connection's, not the response's.
      for (let i = headers.length - 2; i >= 0; i -= 2) if (named.has(headers[i]!)) headers.splice(i, 2);
    }
    // 1xx interim answers (100 Continue) are not the response (RFC 9110 §15.2); 101 would
    // switch protocols, which the gateway never asks for.
    if (status < 200) {
      if (status === 101) throw new ShimClientError('bad_response', 'unexpected 101 Switching Protocols');
      return rest;
    }
    if (chunked && contentLength !== undefined)
      throw new ShimClientError('bad_response', 'both content-length and chunked');
    if (close) this.reusable = false;
    const bodyless = exchange.isHead || status === 204 || status === 304;
    if (bodyless) {
      exchange.sink.onHead(status, headers, contentLength, undefined);
      this.complete(exchange, rest.length > 0);
      return undefined;
    }
    if (chunked) {
      this.state = 'chunk-size';
      exchange.sink.onHead(status, headers, undefined, undefined);
      return rest;
    }
    if (contentLength !== undefined) {
      if (rest.length >= contentLength) {
        // The usual small answer: head and whole body in one read.
        exchange.sink.onHead(status, headers, contentLength, rest.subarray(0, contentLength));
        this.complete(exchange, rest.length > contentLength);
        return undefined;
      }
      this.state = 'fixed';
      this.remaining = contentLength;
      exchange.sink.onHead(status, headers, contentLength, undefined);
      return rest;
    }
    this.state = 'until-close';
    this.reusable = false;
    exchange.sink.onHead(status, headers, undefined, undefined);
    return rest;
  }

  private deliver(exchange: Exchange, chunk: Buffer): void {
    if (!exchange.sink.onData(chunk)) this.socket.pause();
  }

  /** The response is whole: the sink hears its end, and the connection goes back (or away). */
  private complete(exchange: Exchange, extraBytes: boolean): void {
    if (extraBytes) this.reusable = false;
    if (exchange.settled) return;
    this.current = undefined;
    exchange.connection = undefined;
    this.socket.setTimeout(0);
    this.socket.resume();
    if (!exchange.bodySent) {
      // The shim answered before it had the whole body: the rest would be read as the next
      // request, so this connection is done.
      this.reusable = false;
      this.stopBody?.();
    }
    if (this.reusable) this.finishIdle();
    else this.destroyQuietly();
    exchange.sink.onEnd();
    exchange.succeed();
  }

  private finishIdle(): void {
    if (!this.dead && this.reusable) this.events.idle(this);
  }

  private destroyQuietly(): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    this.events.closed(this);
  }

  private failCurrent(err: ShimClientError): void {
    const exchange = this.current;
    this.current = undefined;
    this.stopBody?.();
    this.destroyQuietly();
    if (exchange) {
      exchange.connection = undefined;
      exchange.fail(err);
    }
  }

  private onTimeout(): void {
    const exchange = this.current;
    if (!exchange) return;
    if (!exchange.bodySent) {
      this.failCurrent(new ShimClientError('body_timeout', 'the client sent no body bytes in time'));
    } else {
      this.failCurrent(new ShimClientError('timeout', `no answer within ${exchange.idleTimeoutMs} ms`));
    }
  }

  private onEnd(): void {
    if (this.current && this.state === 'until-close') {
      const exchange = this.current;
      this.complete(exchange, false);
      return;
    }
    if (this.current)
      this.failCurrent(new ShimClientError('connection_lost', 'the function closed the connection'));
    else this.destroyQuietly();
  }

  private onClose(): void {
    if (this.current) {
      this.failCurrent(new ShimClientError('connection_lost', 'the connection to the function broke'));
    } else {
      this.destroyQuietly();
    }
  }
}

/** Collect a whole response (for `/init` and the pool's buffered `invoke`). */
export function collect(
  client: ShimTransport,
  head: ShimRequestHead,
  body: RequestBody,
  idleTimeoutMs: number,
): Promise<{ status: number; headers: string[]; body: Buffer }> {
  let status = 0;
  let headers: string[] = [];
  const chunks: Buffer[] = [];
  const call = client.request(
    head,
    body,
    {
      onHead(s, h, _length, whole) {
        status = s;
        headers = h;
        if (whole) chunks.push(whole);
      },
      onData(chunk) {
        chunks.push(chunk);
        return true;
      },
      onEnd() {},
    },
    idleTimeoutMs,
  );
  return call.done.then(() => ({
    status,
    headers,
    body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
  }));
}
