"""Just enough HTTP/1.1 for the gateway <-> shim protocol (docs/DESIGN.md §5), over a raw socket.

http.server costs ~45 ms to import here; this costs almost nothing.
"""

MAX_HEAD = 64 * 1024


class Request:
    __slots__ = ("method", "target", "headers", "raw_headers", "body")

    def __init__(self, method, target, raw_headers, body):
        self.method = method
        self.target = target
        self.raw_headers = raw_headers
        self.headers = {}
        for name, value in raw_headers:
            key = name.lower()
            self.headers[key] = f"{self.headers[key]},{value}" if key in self.headers else value
        self.body = body


class Connection:
    """Reads requests off one keep-alive connection and writes responses to it."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise ValueError("header too long")
            if not self._fill():
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("latin-1")

    def _exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ValueError("connection closed inside a body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_request(self):
        """The next request, or None when the peer closed the connection."""
        line = self._line()
        while line == "":
            line = self._line()
        if line is None:
            return None
        parts = line.split(" ")
        if len(parts) < 3:
            raise ValueError(f"bad request line: {line!r}")
        raw_headers = []
        while True:
            h = self._line()
            if h is None:
                return None
            if h == "":
                break
            name, _, value = h.partition(":")
            raw_headers.append((name.strip(), value.strip()))
        req = Request(parts[0], parts[1], raw_headers, b"")
        if "chunked" in req.headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int(self._line().split(";")[0].strip(), 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                chunks.append(self._exact(size))
                self._line()
            req.body = b"".join(chunks)
        elif "content-length" in req.headers:
            req.body = self._exact(int(req.headers["content-length"]))
        return req

    def write_response(self, status, headers, body):
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                lines.append(f"{name}: {value}")
        lines.append(f"content-length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)


REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
           500: "Internal Server Error", 503: "Service Unavailable"}
