// Just enough HTTP/1.1 for the gateway ↔ shim protocol (docs/DESIGN.md §5), on node:net. Measured
// in the image: importing node:http costs ~24 ms of every cold start, node:net ~3.5 ms.
// Requests are read whole (the gateway sends a content-length or chunked body), one at a
// time per connection; connections are kept alive.
import net from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

class LiteResponse {
  constructor(socket, keepAlive) {
    this.socket = socket;
    this.keepAlive = keepAlive;
    this.headersSent = false;
    this.status = 200;
    this.headers = {};
  }

  writeHead(status, headers = {}) {
    this.status = status;
    this.headers = headers;
    return this;
  }

  end(body) {
    const data = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
    let head = `HTTP/1.1 ${this.status} ${this.status < 400 ? 'OK' : 'Error'}\r\n`;
    for (const [key, value] of Object.entries(this.headers)) {
      const k = key.toLowerCase();
      if (k === 'content-length' || k === 'transfer-encoding' || k === 'connection') continue;
      for (const v of Array.isArray(value) ? value : [value]) head += `${key}: ${v}\r\n`;
    }
    head += `content-length: ${data.length}\r\n${this.keepAlive ? '' : 'connection: close\r\n'}\r\n`;
    this.headersSent = true;
    this.socket.write(Buffer.concat([Buffer.from(head, 'latin1'), data]));
    if (!this.keepAlive) this.socket.end();
  }

  destroy() {
    this.socket.destroy();
  }
}

/** Parse one request off the front of `buf`: [request, rest] or undefined if incomplete. */
export function parseRequest(buf) {
  const headEnd = buf.indexOf(HEAD_END);
  if (headEnd < 0) {
    if (buf.length > MAX_HEAD) throw new Error('request head too large');
    return undefined;
  }
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const [method, url, version] = lines[0].split(' ');
  if (!method || !url || !version?.startsWith('HTTP/')) throw new Error(`bad request line: ${lines[0]}`);
  const rawHeaders = [];
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) throw new Error(`bad header line: ${lines[i]}`);
    const name = lines[i].slice(0, colon).trim();
    const value = lines[i].slice(colon + 1).trim();
    rawHeaders.push(name, value);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  let rest = buf.subarray(headEnd + 4);
  let body;
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const chunks = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0) {
        const trailerEnd = rest.indexOf(HEAD_END, lineEnd - 2);
        if (trailerEnd < 0) return undefined;
        rest = rest.subarray(trailerEnd + 4);
        break;
      }
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(chunks);
  } else {
    const length = Number(headers['content-length'] ?? 0);
    if (rest.length < length) return undefined;
    body = Buffer.from(rest.subarray(0, length));
    rest = rest.subarray(length);
  }
  const req = { method, url, httpVersion: version.slice(5), headers, rawHeaders, body };
  return [req, rest];
}

/** A server calling `handler(req, res)` for each request; `res` has writeHead/end like node:http's. */
export function createServer(handler) {
  return net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    let busy = false;
    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          const parsed = parseRequest(buf);
          if (!parsed) break;
          const [req, rest] = parsed;
          buf = rest;
          const keepAlive = (req.headers.connection ?? '').toLowerCase() !== 'close';
          await handler(req, new LiteResponse(socket, keepAlive));
          if (!keepAlive) return;
        }
      } catch (err) {
        socket.destroy(err);
      } finally {
        busy = false;
      }
    };
    socket.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      void pump();
    });
    socket.on('error', () => socket.destroy());
  });
}
