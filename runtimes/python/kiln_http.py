"""HTTP/1.1 on a raw socket for the shim (SHIM-PROTOCOL.md §6): RFC 9112's message framing
with Kiln's caps, and a response writer.

http.server costs ~45 ms to import here; this costs almost nothing. One RequestReader per
connection reads its requests in order, so pipelined requests are answered in order.
"""

import socket

MAX_HEAD = 64 * 1024
# A chunk-size line is a hex number and optional extensions: anything longer is an attack.
MAX_CHUNK_LINE = 4096
# Headers that describe this one hop (RFC 9110 §7.6.1): read by the server, never shown
# to a handler, never taken from a handler's result.
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "te", "trailer",
                        "transfer-encoding", "upgrade", "expect"))
# RFC 9110 §5.6.2: token characters, the only ones a method or header name may hold.
# `name.strip(TOKEN)` is empty exactly when every character of name is one of them.
TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEX = frozenset("0123456789abcdefABCDEF")


class HttpError(Exception):
    """A request that cannot be served: answered with `status` and `code`, then the
    connection closes (its framing can no longer be trusted)."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code


class PeerClosed(Exception):
    """The client closed the connection in the middle of a request."""


class Request:
    __slots__ = ("method", "target", "version", "raw_headers", "headers", "body", "keep_alive")

    def __init__(self, method, target, version, raw_headers):
        self.method = method
        self.target = target
        self.version = version
        self.raw_headers = raw_headers
        headers = {}
        for name, value in raw_headers:
            key = name.lower()
            # RFC 9110 §5.3: repeated fields combine with commas (API Gateway 2.0 does the same).
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        self.headers = headers
        self.body = b""
        connection = headers.get("connection")
        tokens = [t.strip().lower() for t in connection.split(",")] if connection else ()
        # RFC 9112 §9.3: 1.1 stays open unless told to close; 1.0 closes unless told to stay.
        if version == "HTTP/1.1":
            self.keep_alive = "close" not in tokens
        else:
            self.keep_alive = "keep-alive" in tokens


class RequestReader:
    """Reads the requests of one connection, one at a time, in order."""

    def __init__(self, sock, max_body):
        self.sock = sock
        self.max_body = max_body
        self.buf = bytearray()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _take(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise PeerClosed()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _line(self, limit, error):
        start = 0
        while True:
            at = self.buf.find(b"\r\n", start)
            if at >= 0:
                line = bytes(self.buf[:at])
                del self.buf[:at + 2]
                return line
            if len(self.buf) > limit:
                raise error
            start = max(0, len(self.buf) - 1)
            if not self._fill():
                raise PeerClosed()

    def _head(self):
        """The request head up to its blank line, or None when the peer closed cleanly first."""
        start = 0
        while True:
            # RFC 9112 §2.2: empty lines before a request line are ignored.
            while self.buf[:2] == b"\r\n":
                del self.buf[:2]
            at = self.buf.find(b"\r\n\r\n", start)
            if at >= 0:
                head = bytes(self.buf[:at])
                del self.buf[:at + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise HttpError(431, "request_head_too_large", f"the request head is larger than {MAX_HEAD} bytes")
            start = max(0, len(self.buf) - 3)
            if not self._fill():
                if self.buf:
                    raise PeerClosed()
                return None

    def read(self, send_continue):
        """The next request with its whole body, or None when the peer closed between requests.
        `send_continue()` is called when the client waits for `100 Continue` before its body."""
        head = self._head()
        if head is None:
            return None
        if len(head) > MAX_HEAD:
            raise HttpError(431, "request_head_too_large", f"the request head is larger than {MAX_HEAD} bytes")
        # CR, LF and NUL have no place in a head but as its line ends (RFC 9110 §5.5).
        crlf = head.count(b"\r\n")
        if head.count(b"\r") != crlf or head.count(b"\n") != crlf or b"\x00" in head:
            raise HttpError(400, "bad_request", "a bare CR, LF or NUL in the request head")
        lines = head.decode("latin-1").split("\r\n")
        req = Request(*parse_request_line(lines[0]), parse_header_lines(lines[1:]))
        length = body_length(req, self.max_body)
        expect = req.headers.get("expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                raise HttpError(417, "expectation_failed", f"unsupported Expect: {expect}")
            if req.version == "HTTP/1.1" and length != 0:
                send_continue()
        if length == -1:
            req.body = self._chunked()
        elif length:
            req.body = self._take(length)
        return req

    def _chunked(self):
        """A chunked body (RFC 9112 §7.1), trailers read and dropped."""
        bad = HttpError(400, "bad_request", "malformed chunked body")
        chunks = []
        total = 0
        while True:
            size_text = self._line(MAX_CHUNK_LINE, bad).split(b";", 1)[0].strip(b" \t").decode("latin-1")
            if not size_text or not HEX.issuperset(size_text) or len(size_text) > 16:
                raise bad
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > self.max_body:
                raise too_large(self.max_body)
            chunks.append(self._take(size))
            if self._take(2) != b"\r\n":
                raise bad
        trailers = 0
        while True:
            line = self._line(MAX_HEAD, HttpError(431, "request_head_too_large", "the trailer section is too large"))
            trailers += len(line) + 2
            if trailers > MAX_HEAD:
                raise HttpError(431, "request_head_too_large", "the trailer section is too large")
            if not line:
                break
        return b"".join(chunks)

    def close_gracefully(self):
        """Close after an error answer without a reset: a client still sending its body would
        see ECONNRESET instead of the answer if unread bytes were left in our receive queue."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(2)
            drained = 0
            while drained < 64 << 20:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass


def parse_request_line(line):
    parts = line.split(" ")
    if len(parts) != 3:
        raise HttpError(400, "bad_request", f"bad request line: {line[:200]!r}")
    method, target, version = parts
    if not method or method.strip(TOKEN):
        raise HttpError(400, "bad_request", f"bad method: {method[:50]!r}")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/") and len(version) == 8 and version[5].isdigit():
            raise HttpError(505, "http_version_not_supported", f"{version} is not supported (HTTP/1.1 is)")
        raise HttpError(400, "bad_request", f"bad request line: {line[:200]!r}")
    if target.startswith(("http://", "https://")):
        # RFC 9112 §3.2.2: the absolute form, sent to proxies; a server must accept it.
        slash = target.find("/", target.index("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    elif not target.startswith("/") and not (target == "*" and method == "OPTIONS"):
        raise HttpError(400, "bad_request", f"bad request target: {target[:200]!r}")
    if min(target) <= " " or "\x7f" in target:
        raise HttpError(400, "bad_request", "the request target holds a control character")
    return method, target, version


def parse_header_lines(lines):
    headers = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            # RFC 9112 §5.2: obsolete line folding may be rejected with a 400.
            raise HttpError(400, "bad_request", "obsolete header line folding")
        name, sep, value = line.partition(":")
        # RFC 9112 §5.1: no whitespace between a field name and its colon.
        if not sep or not name or name.strip(TOKEN):
            raise HttpError(400, "bad_request", f"bad header line: {line[:200]!r}")
        headers.append((name, value.strip(" \t")))
    return headers


def body_length(req, max_body):
    """How the body is framed (RFC 9112 §6.3): -1 chunked, else its length in bytes."""
    te = req.headers.get("transfer-encoding")
    cl = req.headers.get("content-length")
    if te is not None:
        # Both framings at once is how requests are smuggled: refuse it (§6.1 allows this).
        if cl is not None or req.version != "HTTP/1.1":
            raise HttpError(400, "bad_request", "transfer-encoding with content-length, or in HTTP/1.0")
        codings = [c.strip().lower() for c in te.split(",") if c.strip()]
        if codings != ["chunked"]:
            if codings and codings[-1] != "chunked":
                raise HttpError(400, "bad_request", "a transfer-encoding that does not end with chunked")
            raise HttpError(501, "not_implemented", f"transfer-encoding {te!r} is not supported (chunked is)")
        return -1
    if cl is None:
        return 0
    values = {v.strip() for v in cl.split(",")}
    if len(values) != 1:
        raise HttpError(400, "bad_request", "conflicting content-length values")
    text = values.pop()
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        raise HttpError(400, "bad_request", f"bad content-length: {text[:30]!r}")
    length = int(text)
    if length > max_body:
        raise too_large(max_body)
    return length


def too_large(max_body):
    return HttpError(413, "request_too_large", f"the request body is larger than {max_body} bytes")


def write_response(sock, status, headers, body, head_only=False, close=False):
    """One whole response. `content-length` is always ours; HEAD gets it without the body."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    for name, value in headers:
        if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
            lines.append(f"{name}: {value}")
    # RFC 9110 §8.6 / §15.3.5: no content-length and no body on 1xx and 204; none on 304.
    if status >= 200 and status != 204 and status != 304:
        lines.append(f"content-length: {len(body)}")
    else:
        body = b""
    if close:
        lines.append("connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    if head_only or not body:
        sock.sendall(data)
    elif len(body) < 65536:
        sock.sendall(data + body)
    else:
        sock.sendall(data)
        sock.sendall(body)


REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 206: "Partial Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 409: "Conflict", 410: "Gone", 412: "Precondition Failed",
    413: "Content Too Large", 415: "Unsupported Media Type", 417: "Expectation Failed",
    422: "Unprocessable Content", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}
