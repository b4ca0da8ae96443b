// The frames of the gateway's multiplexed connection (docs/DESIGN.md §5, "Multiplexed
// connection"); src/pool/mux-frames.ts is the gateway's copy of the same layout.
//
// A connection opens with PREFACE from the gateway; then each frame is a 10-byte header --
// payload length (u32 BE), type (u8), flags (u8), stream id (u32 BE) -- and its payload.

// What a shim that speaks it lists in its `/init` answer's `transports`.
export const MUX_TRANSPORT = 'mux/1';
export const PREFACE = Buffer.from('KILN-MUX/1\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 10;
// Bodies travel in frames of at most this many bytes, so no stream holds the socket long.
export const MAX_CHUNK = 64 * 1024;
// A request head (64 KiB at most, as over HTTP) plus its first body bytes.
export const MAX_FRAME = 256 * 1024;
// Response bytes a stream may send beyond what the gateway has passed on to its client.
export const WINDOW = 256 * 1024;

// gateway -> shim
export const REQUEST = 1; // u32 head length, head ("METHOD\nPATH\nname\nvalue..."), first body bytes
export const BODY = 2;
export const CANCEL = 3; // the gateway gave up on the stream (its client left, or a timeout)
export const CREDIT = 4; // u32: response bytes the gateway passed on
// shim -> gateway
export const HEAD = 16; // u32 head length, head ("STATUS\nLENGTH\nname\nvalue..."), first body bytes
export const DATA = 17;
export const RESET = 18; // the response was cut short (the handler failed after its head)

/** The frame ends its side of the stream: no more body follows. */
export const END = 1;
/** On REQUEST: the request has a body (maybe empty): the function sees its content-length. */
export const HAS_BODY = 2;
/** A response head at most (as the gateway's HTTP/1.1 client takes). */
export const MAX_HEAD = 64 * 1024;

/** One frame as a header and payload buffers, ready for a write. */
export function frame(type, flags, id, ...payload) {
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
export function headPayload(text, body) {
  const head = Buffer.from(text, 'latin1');
  const size = Buffer.allocUnsafe(4);
  size.writeUInt32BE(head.length, 0);
  return body?.length ? [size, head, body] : [size, head];
}

/** Split a head payload: `{text, body}`, or undefined when its head length does not fit. */
export function splitHeadPayload(payload) {
  if (payload.length < 4) return undefined;
  const size = payload.readUInt32BE(0);
  if (size > payload.length - 4) return undefined;
  return { text: payload.toString('latin1', 4, 4 + size), body: payload.subarray(4 + size) };
}

/**
 * Reads frames off a byte stream: `push(chunk)` calls `onFrame(type, flags, id, payload)` for
 * each whole frame, keeping a partial one for the next chunk. Returns false on a frame larger
 * than `maxFrame` (the peer is out of step; the connection must go).
 */
export class FrameReader {
  constructor(onFrame, maxFrame = MAX_FRAME) {
    this.onFrame = onFrame;
    this.maxFrame = maxFrame;
    // The reads of a partial frame, `size` bytes, joined once there are `need`.
    this.parts = [];
    this.size = 0;
    this.need = 0;
  }

  push(chunk) {
    let buf = chunk;
    if (this.parts.length) {
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
      const type = buf[at + 4];
      const flags = buf[at + 5];
      const id = buf.readUInt32BE(at + 6);
      this.onFrame(type, flags, id, buf.subarray(at + FRAME_HEADER_BYTES, end));
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
