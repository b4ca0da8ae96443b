// HTTP/1.1 request parsing for http-lite.mjs, as pure functions over bytes (RFC 9112).
// Anything the shim cannot read unambiguously is refused with an HttpError: a request the
// shim misreads would desynchronize every request after it on a kept-alive connection.

export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4096;

export class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const bad = (message) => new HttpError(400, 'bad_request', message);

// RFC 9110 §5.6.2 token; a request-target has no spaces or controls (RFC 9112 §3.2).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e\x80-\xff]+$/;
// A field value may not hold CR, LF or NUL (RFC 9110 §5.5).
const INVALID_VALUE = /[\0\r\n]/;
const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * The request head in `buf[0, end)` (without its final blank line):
 * `{method, url, httpVersion, headers, rawHeaders}`; `headers` joins repeated fields with ", ".
 */
export function parseHead(buf, end) {
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const parts = lines[0].split(' ');
  if (parts.length !== 3) throw bad('malformed request line');
  const [method, url, version] = parts;
  if (!TOKEN.test(method)) throw bad('malformed method');
  if (!TARGET.test(url)) throw bad('malformed request target');
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') {
    throw new HttpError(505, 'http_version_not_supported', `${version.slice(0, 20)} is not supported`);
  }
  const rawHeaders = [];
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    // No colon, or whitespace before it or at the start (obsolete line folding): RFC 9112 §5.
    if (colon <= 0) throw bad('malformed header line');
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw bad('malformed header name');
    const value = line.slice(colon + 1).replace(OWS, '');
    if (INVALID_VALUE.test(value)) throw bad('malformed header value');
    rawHeaders.push(name, value);
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return { method, url, httpVersion: version.slice(5), headers, rawHeaders };
}

/**
 * How the body is framed (RFC 9112 §6.3): `{chunked: true}` or `{length}`. Both framings at
 * once, a coding other than a lone `chunked`, or a malformed length are refused: a proxy in
 * front may have read them differently (request smuggling).
 */
export function bodyFraming(headers, maxBodyBytes) {
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined) throw bad('both transfer-encoding and content-length');
    const codings = te
      .toLowerCase()
      .split(',')
      .map((s) => s.trim());
    if (codings.at(-1) !== 'chunked') throw bad('transfer-encoding must end in chunked');
    if (codings.length > 1) {
      throw new HttpError(501, 'not_implemented', `transfer-encoding ${te} is not supported`);
    }
    return { chunked: true };
  }
  if (cl === undefined) return { length: 0 };
  // Repeated identical values ("5, 5") are allowed (RFC 9110 §8.6).
  const values = new Set(cl.split(',').map((s) => s.trim()));
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only)) throw bad('malformed content-length');
  const length = Number(only);
  if (length > maxBodyBytes) throw tooLarge(maxBodyBytes);
  return { length };
}

export function tooLarge(maxBodyBytes) {
  return new HttpError(
    413,
    'request_too_large',
    `the request body is larger than ${maxBodyBytes} bytes (KILN_MAX_BODY_BYTES)`,
  );
}

const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILER = 3;

/**
 * A chunked body decoded as its bytes arrive (RFC 9112 §7.1). `push(buf)` returns the offset
 * just past the body's end in `buf`, or -1 when it needs more bytes. Chunk extensions and
 * trailer fields are read and dropped.
 */
export class ChunkedDecoder {
  constructor(maxBodyBytes) {
    this.max = maxBodyBytes;
    this.state = SIZE;
    this.line = '';
    this.remaining = 0;
    this.trailerBytes = 0;
    this.parts = [];
    this.length = 0;
  }

  push(buf) {
    let i = 0;
    while (i < buf.length) {
      if (this.state === DATA) {
        const take = Math.min(this.remaining, buf.length - i);
        this.parts.push(buf.subarray(i, i + take));
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.state = DATA_END;
        continue;
      }
      if (this.state === DATA_END) {
        // The CRLF that closes a chunk's data.
        this.line += String.fromCharCode(buf[i++]);
        if (this.line === '\r') continue;
        if (this.line !== '\r\n') throw bad('malformed chunk');
        this.line = '';
        this.state = SIZE;
        continue;
      }
      const nl = buf.indexOf(10, i);
      this.line += buf.toString('latin1', i, nl < 0 ? buf.length : nl + 1);
      const limit = this.state === SIZE ? MAX_CHUNK_LINE : MAX_HEAD_BYTES - this.trailerBytes;
      if (this.line.length > limit) throw bad('chunk size line or trailer too long');
      if (nl < 0) return -1;
      i = nl + 1;
      const line = this.line;
      this.line = '';
      if (!line.endsWith('\r\n')) throw bad('malformed chunk');
      if (this.state === TRAILER) {
        if (line === '\r\n') return i;
        this.trailerBytes += line.length;
        continue;
      }
      const size = line.slice(0, -2).split(';')[0].trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw bad('malformed chunk size');
      const n = Number.parseInt(size, 16);
      if (n === 0) {
        this.state = TRAILER;
        continue;
      }
      this.length += n;
      if (this.length > this.max) throw tooLarge(this.max);
      this.remaining = n;
      this.state = DATA;
    }
    return -1;
  }

  body() {
    return this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
  }
}
