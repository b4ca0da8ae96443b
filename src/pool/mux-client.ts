import net from 'node:net';
import type { Readable } from 'node:stream';
import {
  CREDIT_AFTER,
  END,
  FrameReader,
  FrameType,
  frame,
  HAS_BODY,
  MAX_CHUNK,
  PREFACE,
  parseResponseHead,
  requestFrame,
  requestHeadText,
  splitHeadPayload,
  WINDOW,
} from './mux-frames.js';
import { copyRequestBody } from './request-body-copy.js';
import {
  type RequestBody,
  type ResponseSink,
  type ShimCall,
  ShimClientError,
  type ShimRequestHead,
  type ShimTransport,
} from './shim-client.js';

/**
 * Every request to one instance on a single unix socket, as frames (`mux-frames.ts`), for a
 * shim that lists `mux/1` in its `/init` answer (the node shim).
 *
 * Why: with a connection per request, each request costs the gateway a write and a read on
 * the shim's side, and each of those writes wakes the other process. On this 2-vCPU
 * Firecracker VM such a wakeup costs tens of µs, and write/writev were 35–45% of the gateway's
 * CPU at 64 connections (issue 9). Here the frames queued while the event loop handles one
 * batch of ready sockets leave in one write after it (`setImmediate`), and the shim answers
 * the same way, so a burst of requests costs one write and one read on each side.
 *
 * The contract is `ShimClient`'s: bodies stream both ways with backpressure (the response
 * under a credit window per stream, so a slow client never makes the gateway hold more than
 * `WINDOW` of one response), the idle timeout is per request, and a broken connection fails
 * every request on it with `connection_lost`.
 */
export class MuxClient implements ShimTransport {
  private socket: net.Socket | undefined;
  private readonly streams = new Map<number, MuxStream>();
  private nextId = 1;
  private out: Buffer[] = [];
  private flushing = false;
  private closed = false;
  private readonly drainWaiters = new Set<() => void>();
  private readonly flush = () => this.writeOut();

  constructor(readonly socketPath: string) {}

  request(head: ShimRequestHead, body: RequestBody, sink: ResponseSink, idleTimeoutMs: number): ShimCall {
    const id = this.nextId;
    this.nextId = id >= 0x7fffffff ? 1 : id + 1;
    const stream = new MuxStream(this, id, head.method === 'HEAD', sink, idleTimeoutMs);
    if (this.closed) {
      stream.fail(new ShimClientError('connection_lost', 'the instance is stopping'));
      return stream;
    }
    this.connect();
    this.streams.set(id, stream);
    const text = requestHeadText(head.method, head.path, head.headers);
    if (body.kind === 'stream') {
      this.queue(requestFrame(HAS_BODY, id, text));
      stream.copyBody(body.stream, body.length ?? body.limit, body.length === undefined);
    } else {
      const bytes = body.kind === 'bytes' && body.bytes.length ? body.bytes : undefined;
      const framed = body.kind === 'bytes' ? HAS_BODY : 0;
      if (bytes && bytes.length > MAX_CHUNK) {
        this.queue(requestFrame(framed, id, text));
        for (let at = 0; at < bytes.length; at += MAX_CHUNK) {
          const last = at + MAX_CHUNK >= bytes.length;
          this.send(frame(FrameType.body, last ? END : 0, id, [bytes.subarray(at, at + MAX_CHUNK)]));
        }
      } else {
        this.queue(requestFrame(END | framed, id, text, bytes));
      }
      stream.bodySent = true;
    }
    // Alone on the connection (sequential requests): nothing to batch with, so no reason to
    // wait for the turn to end (~10 µs on a warm request: bench warm scenario, issue 9).
    if (this.streams.size === 1) this.writeOut();
    return stream;
  }

  /** Close the connection; requests in flight fail with `connection_lost`. */
  destroy(): void {
    this.closed = true;
    this.socket?.destroy();
    this.lost('the instance is stopping');
  }

  /** Queue a frame's buffers; what is queued while the event loop turns leaves in one write. */
  send(buffers: Buffer[]): void {
    for (const b of buffers) this.queue(b);
  }

  private queue(buffer: Buffer): void {
    this.out.push(buffer);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flush);
    }
  }

  /** Whether the socket's buffer is past its mark (a body copy should wait for `drain`). */
  get congested(): boolean {
    return this.socket?.writableNeedDrain ?? false;
  }

  /** Call `listener` once the socket drains; answers a function that takes it back. */
  onDrain(listener: () => void): () => void {
    // One listener on the socket for every waiting body, not one each (Node warns past 10).
    this.drainWaiters.add(listener);
    return () => this.drainWaiters.delete(listener);
  }

  forget(id: number, stream: MuxStream): void {
    if (this.streams.get(id) === stream) this.streams.delete(id);
  }

  private writeOut(): void {
    this.flushing = false;
    const out = this.out;
    this.out = [];
    if (!this.socket || this.socket.destroyed || !out.length) return;
    this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  private connect(): void {
    if (this.socket) return;
    const socket = net.connect({ path: this.socketPath });
    socket.setNoDelay(true);
    const reader = new FrameReader((type, flags, id, payload) => this.onFrame(type, flags, id, payload));
    socket.on('data', (chunk: Buffer) => {
      if (!reader.push(chunk)) this.outOfStep('a frame larger than the protocol allows');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      // A socket given up on (outOfStep) already failed its requests; the next is in use.
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.drainWaiters.clear();
      this.lost('the connection to the function broke');
    });
    socket.on('drain', () => {
      const waiters = [...this.drainWaiters];
      this.drainWaiters.clear();
      for (const w of waiters) w();
    });
    this.socket = socket;
    this.out.unshift(PREFACE);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flush);
    }
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    const stream = this.streams.get(id);
    // Frames of a stream the gateway already gave up on are expected: they crossed its cancel.
    if (!stream) return;
    switch (type) {
      case FrameType.head: {
        const split = splitHeadPayload(payload);
        const head = split && parseResponseHead(split.text);
        if (!split || !head) {
          stream.cancel(new ShimClientError('bad_response', 'malformed response head'));
          return;
        }
        stream.onHead(head.status, head.headers, head.contentLength, split.body, (flags & END) !== 0);
        return;
      }
      case FrameType.data:
        stream.onData(payload, (flags & END) !== 0);
        return;
      case FrameType.reset:
        stream.fail(new ShimClientError('reset', 'the function cut its response short'));
        return;
      default:
        this.outOfStep(`an unknown frame type ${type}`);
    }
  }

  /** The shim sent what it may not: every request on the connection fails, the connection goes. */
  private outOfStep(why: string): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    for (const stream of [...this.streams.values()]) stream.fail(new ShimClientError('bad_response', why));
    this.streams.clear();
  }

  private lost(why: string): void {
    for (const stream of [...this.streams.values()]) stream.fail(new ShimClientError('connection_lost', why));
    this.streams.clear();
  }
}

/** One request on the connection, as its caller sees it (`ShimCall`) and as frames arrive for it. */
class MuxStream implements ShimCall {
  readonly done: Promise<void>;
  responded = false;
  bodySent = false;
  private settled = false;
  private headSeen = false;
  private expected: number | undefined;
  private received = 0;
  /** Response bytes passed on to the client and not yet credited back to the shim. */
  private owed = 0;
  /** Response bytes received and not yet credited: the shim may not take this past its window. */
  private uncredited = 0;
  private paused = false;
  private lastActivity = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private stopBody: (() => void) | undefined;
  private resolveDone!: () => void;
  private rejectDone!: (err: Error) => void;

  constructor(
    private readonly client: MuxClient,
    private readonly id: number,
    private readonly isHead: boolean,
    private readonly sink: ResponseSink,
    private readonly idleTimeoutMs: number,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.timer = setTimeout(() => this.onTimer(), idleTimeoutMs);
  }

  onHead(
    status: number,
    headers: string[],
    contentLength: number | undefined,
    first: Buffer,
    end: boolean,
  ): void {
    if (this.headSeen) {
      this.cancel(new ShimClientError('bad_response', 'a second response head'));
      return;
    }
    this.headSeen = true;
    this.responded = true;
    this.lastActivity = Date.now();
    const bodyless = this.isHead || status === 204 || status === 304;
    if (end) {
      if (!bodyless && contentLength !== first.length) {
        this.cancel(new ShimClientError('bad_response', 'the body does not match its length'));
        return;
      }
      if (!this.call(() => this.sink.onHead(status, headers, contentLength, bodyless ? undefined : first)))
        return;
      this.complete();
      return;
    }
    if (bodyless) {
      this.cancel(new ShimClientError('bad_response', 'a body after a bodyless head'));
      return;
    }
    this.expected = contentLength;
    if (!this.call(() => this.sink.onHead(status, headers, contentLength, undefined))) return;
    if (first.length) this.onData(first, false);
  }

  onData(chunk: Buffer, end: boolean): void {
    if (!this.headSeen || this.settled) {
      this.cancel(new ShimClientError('bad_response', 'body before head'));
      return;
    }
    this.lastActivity = Date.now();
    this.received += chunk.length;
    if (this.expected !== undefined && this.received > this.expected) {
      this.cancel(new ShimClientError('bad_response', 'more body than its length'));
      return;
    }
    this.uncredited += chunk.length;
    // The window is the only bound on what the gateway holds of a response its client is slow
    // to take: a shim (the function's code) that ignores it is refused, not buffered. The shim
    // may be one chunk past it, and its last chunk is not counted.
    if (this.uncredited > WINDOW + 2 * MAX_CHUNK) {
      this.cancel(new ShimClientError('bad_response', 'the function sent past its flow-control window'));
      return;
    }
    if (chunk.length) {
      let more = true;
      if (!this.call(() => (more = this.sink.onData(chunk)))) return;
      this.owed += chunk.length;
      if (!more) this.paused = true;
      else if (this.owed >= CREDIT_AFTER) this.sendCredit();
    }
    if (!end) return;
    if (this.expected !== undefined && this.received !== this.expected) {
      this.cancel(new ShimClientError('bad_response', 'less body than its length'));
      return;
    }
    this.complete();
  }

  /** Copy the client's body to the shim as it arrives, pausing the client while the socket is full. */
  copyBody(stream: Readable, limit: number, counted: boolean): void {
    this.stopBody = copyRequestBody(stream, limit, counted, {
      settled: () => this.settled,
      write: (chunk) => {
        this.lastActivity = Date.now();
        for (let at = 0; at < chunk.length; at += MAX_CHUNK) {
          this.client.send(frame(FrameType.body, 0, this.id, [chunk.subarray(at, at + MAX_CHUNK)]));
        }
        return !this.client.congested;
      },
      onDrain: (resume) => this.client.onDrain(resume),
      end: () => {
        this.client.send(frame(FrameType.body, END, this.id));
        this.bodySent = true;
      },
      fail: (err) => this.cancel(err),
    });
  }

  /** The client can take more: the shim may send what the window held back. */
  resume(): void {
    if (!this.paused || this.settled) return;
    this.paused = false;
    if (this.owed) this.sendCredit();
  }

  abort(): void {
    this.cancel(new ShimClientError('aborted', 'the request was abandoned by the gateway'));
  }

  /** Give up on the request: the shim hears it (its handler's writes fail), the caller gets `err`. */
  cancel(err: ShimClientError): void {
    if (this.settled) return;
    this.client.send(frame(FrameType.cancel, 0, this.id));
    this.fail(err);
  }

  fail(err: Error): void {
    if (this.settled) return;
    this.settle();
    this.rejectDone(err);
  }

  private complete(): void {
    if (this.settled) return;
    // The shim answered before it had the whole body: it drops the rest as it comes.
    if (!this.bodySent) this.client.send(frame(FrameType.cancel, 0, this.id));
    this.settle();
    try {
      this.sink.onEnd();
    } catch (err) {
      this.rejectDone(new ShimClientError('bad_response', (err as Error).message));
      return;
    }
    this.resolveDone();
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.stopBody?.();
    this.client.forget(this.id, this);
  }

  /** A sink that throws (a head the client's HTTP library refuses) fails this request only. */
  private call(deliver: () => void): boolean {
    try {
      deliver();
      return true;
    } catch (err) {
      this.cancel(new ShimClientError('bad_response', (err as Error).message));
      return false;
    }
  }

  private sendCredit(): void {
    const n = Buffer.allocUnsafe(4);
    n.writeUInt32BE(this.owed, 0);
    this.uncredited -= this.owed;
    this.owed = 0;
    this.client.send(frame(FrameType.credit, 0, this.id, [n]));
  }

  /** The idle timeout: no byte either way for `idleTimeoutMs`. */
  private onTimer(): void {
    if (this.settled) return;
    const left = this.lastActivity + this.idleTimeoutMs - Date.now();
    if (left > 0) {
      this.timer = setTimeout(() => this.onTimer(), left);
      return;
    }
    this.cancel(
      this.bodySent
        ? new ShimClientError('timeout', `no answer within ${this.idleTimeoutMs} ms`)
        : new ShimClientError('body_timeout', 'the client sent no body bytes in time'),
    );
  }
}
