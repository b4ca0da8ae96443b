/**
 * The frames of the multiplexed connection between the gateway and a shim (docs/DESIGN.md §5,
 * "Multiplexed connection"); runtimes/node/mux-frames.mjs is the shim's copy of this layout.
 *
 * The gateway opens the connection with `PREFACE`; then every frame is a 10-byte header —
 * payload length (u32 BE), type (u8), flags (u8), stream id (u32 BE) — and its payload.
 */

/** What a shim that takes the connection lists in its `/init` answer's `transports`. */
export const MUX_TRANSPORT = 'mux/1';
export const PREFACE = Buffer.from('KILN-MUX/1\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 10;
/** Body bytes per frame at most, so no stream holds the socket for long. */
export const MAX_CHUNK = 64 * 1024;
/** A head (64 KiB at most, as over HTTP) with the first body bytes. */
export const MAX_FRAME = 256 * 1024;
/** Response bytes a stream may have sent beyond what the gateway passed on (`CREDIT`). */
export const WINDOW = 256 * 1024;
/** Passed-on bytes the gateway owes a stream before it sends a `CREDIT` (a quarter window). */
export const CREDIT_AFTER = WINDOW / 4;

export const FrameType = {
  // gateway → shim
  /** u32 head length, head (`METHOD\nPATH\nname\nvalue…`), the first body bytes. */
  request: 1,
  body: 2,
  /** The gateway gave up on the stream (its client left, a timeout). */
  cancel: 3,
  /** u32: response bytes the gateway passed on to its client. */
  credit: 4,
  // shim → gateway
  /** u32 head length, head (`STATUS\nLENGTH\nname\nvalue…`), the first body bytes. */
  head: 16,
  data: 17,
  /** The shim cut the response short (its handler failed after the head). */
  reset: 18,
} as const;

/** This frame ends its side of the stream. */
export const END = 1;
/**
 * On `REQUEST`: the request has a body (maybe empty), so the shim gives the function its
 * `content-length`, as the HTTP/1.1 transport's framing did.
 */
export const HAS_BODY = 2;

/** A frame's header and payload buffers, ready to be written. */
export function frame(type: number, flags: number, id: number, payload: readonly Buffer[] = []): Buffer[] {
  let length = 0;
  for (const p of payload) length += p.length;
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  header[4] = type;
  header[5] = flags;
  header.writeUInt32BE(id, 6);
  return [header, ...payload];
}

/** A head and the body bytes that travel with it: `u32 head length, head, body`. */
export function headPayload(text: string, body?: Buffer): Buffer[] {
  const head = Buffer.from(text, 'latin1');
  const size = Buffer.allocUnsafe(4);
  size.writeUInt32BE(head.length, 0);
  return body?.length ? [size, head, body] : [size, head];
}

/** A head payload split: undefined when its head length does not fit in it. */
export function splitHeadPayload(payload: Buffer): { text: string; body: Buffer } | undefined {
  if (payload.length < 4) return undefined;
  const size = payload.readUInt32BE(0);
  if (size > payload.length - 4) return undefined;
  return { text: payload.toString('latin1', 4, 4 + size), body: payload.subarray(4 + size) };
}

export type OnFrame = (type: number, flags: number, id: number, payload: Buffer) => void;

/**
 * Reads frames off a byte stream, keeping a partial frame for the next chunk. `push` is false
 * on a frame larger than `maxFrame`: the peer is out of step and the connection must go.
 */
export class FrameReader {
  /** The reads of a partial frame, `size` bytes, until `need`. */
  private parts: Buffer[] = [];
  private size = 0;
  private need = 0;

  constructor(
    private readonly onFrame: OnFrame,
    private readonly maxFrame = MAX_FRAME,
  ) {}

  push(chunk: Buffer): boolean {
    let buf = chunk;
    if (this.parts.length) {
      // A frame arriving in many reads is joined once, when it is whole (or its header is):
      // joining on every read would cost the shim's small writes quadratic copying here.
      this.parts.push(chunk);
      this.size += chunk.length;
      if (this.size < this.need) return true;
      buf = Buffer.concat(this.parts, this.size);
      this.parts = [];
      this.size = 0;
    }
    let at = 0;
    while (buf.length - at >= FRAME_HEADER_BYTES) {
      const length = buf.readUInt32BE(at);
      if (length > this.maxFrame) return false;
      const end = at + FRAME_HEADER_BYTES + length;
      if (end > buf.length) break;
      this.onFrame(
        buf[at + 4]!,
        buf[at + 5]!,
        buf.readUInt32BE(at + 6),
        buf.subarray(at + FRAME_HEADER_BYTES, end),
      );
      at = end;
    }
    if (at < buf.length) {
      const rest = at === 0 ? buf : buf.subarray(at);
      this.parts = [rest];
      this.size = rest.length;
      this.need =
        rest.length >= FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES + rest.readUInt32BE(0) : FRAME_HEADER_BYTES;
    }
    return true;
  }
}

/** A response head as the shim sent it, checked: what a proxy may pass on. */
export interface MuxResponseHead {
  status: number;
  /** The body's length when the shim knows it (a whole body), else undefined (streamed). */
  contentLength: number | undefined;
  /** Flat `[name, value, …]`, lowercase names. */
  headers: string[];
}

const STATUS = /^[2-9]\d\d$/;
const LENGTH = /^\d{1,15}$/;
const NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// A value may not carry CR or NUL (RFC 9110 §5.5); LF separates the fields.
const FORBIDDEN = /[\r\0]/;

/**
 * Parse `STATUS\nLENGTH\nname\nvalue…`; undefined when anything in it could not be passed on
 * as HTTP (the shim runs the function's code, so its frames are untrusted).
 */
export function parseResponseHead(text: string): MuxResponseHead | undefined {
  if (FORBIDDEN.test(text)) return undefined;
  const lines = text.split('\n');
  if (lines.length % 2 || !STATUS.test(lines[0]!)) return undefined;
  const length = lines[1]!;
  if (length !== '' && !LENGTH.test(length)) return undefined;
  const headers = lines.slice(2);
  for (let i = 0; i < headers.length; i += 2) if (!NAME.test(headers[i]!)) return undefined;
  return { status: Number(lines[0]), contentLength: length === '' ? undefined : Number(length), headers };
}

/**
 * A `REQUEST` frame with its head (and `body`, if any) in one buffer: one allocation per
 * request instead of a header, a length, the head and an array to hold them.
 */
export function requestFrame(flags: number, id: number, text: string, body?: Buffer): Buffer {
  // The head is latin1 (as node's HTTP parser reads it): one byte per character.
  const headBytes = text.length;
  const bodyBytes = body?.length ?? 0;
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 4 + headBytes + bodyBytes);
  buf.writeUInt32BE(4 + headBytes + bodyBytes, 0);
  buf[4] = FrameType.request;
  buf[5] = flags;
  buf.writeUInt32BE(id, 6);
  buf.writeUInt32BE(headBytes, FRAME_HEADER_BYTES);
  buf.write(text, FRAME_HEADER_BYTES + 4, 'latin1');
  if (body) body.copy(buf, FRAME_HEADER_BYTES + 4 + headBytes);
  return buf;
}

/** `METHOD\nPATH\nname\nvalue…`: the request head the shim reads. */
export function requestHeadText(method: string, path: string, headers: readonly string[]): string {
  let text = `${method}\n${path}`;
  for (let i = 0; i < headers.length; i++) text += `\n${headers[i]}`;
  return text;
}
