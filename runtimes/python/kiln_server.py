"""Serves connections in parallel: one thread per connection (SHIM-PROTOCOL.md §6).

The gateway opens at most `concurrency` keep-alive connections to an instance, so a thread
each is cheap and lets `concurrency > 1` run handlers at once; a slow or half-sent request
blocks only its own connection's thread. Each connection answers its requests in the order
they came, so pipelined requests are answered in order.
"""

import json
import socket
import sys
import threading

from kiln_http import HttpError, PeerClosed, RequestReader, write_response

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# On TCP (the image run outside Kiln, any client can connect) a connection that sends
# nothing for this long is closed, so idle or stalled clients cannot hold every thread.
# The gateway's unix socket has no such limit: it keeps its connections for minutes.
TCP_IDLE_SECONDS = 75


def error_answer(status, code, message):
    """Kiln's error shape: `{"error": {code, message}}` and the code in `x-kiln-error`."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")
    return status, [("content-type", "application/json"), ("x-kiln-error", code)], body


class ConnectionLimit:
    """At most `limit()` connections at once; past it, new ones wait in the listen backlog."""

    def __init__(self, limit):
        self.limit = limit
        self.open = 0
        self.changed = threading.Condition()

    def acquire(self):
        with self.changed:
            while self.open >= self.limit():
                self.changed.wait()
            self.open += 1

    def release(self):
        with self.changed:
            self.open -= 1
            self.changed.notify()


def serve(listener, app, limit, max_body):
    """Accept forever; `app(request, peer_ip)` answers each request."""
    slots = ConnectionLimit(limit)
    tcp = listener.family in (socket.AF_INET, socket.AF_INET6)
    while True:
        slots.acquire()
        try:
            sock, addr = listener.accept()
        except OSError as err:
            slots.release()
            # EMFILE and friends: say so and keep serving the connections we have.
            print(f"kiln shim: accept failed: {err}", file=sys.stderr, flush=True)
            threading.Event().wait(0.05)
            continue
        peer = None
        if tcp:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(TCP_IDLE_SECONDS)
            peer = addr[0]
        try:
            threading.Thread(target=_connection, args=(sock, peer, app, slots, max_body), daemon=True).start()
        except RuntimeError as err:
            # No thread to be had (the cgroup's pids limit): refuse this one connection.
            print(f"kiln shim: cannot serve a connection: {err}", file=sys.stderr, flush=True)
            sock.close()
            slots.release()
            threading.Event().wait(0.05)


def _connection(sock, peer, app, slots, max_body):
    reader = RequestReader(sock, max_body)
    try:
        while True:
            try:
                req = reader.read(lambda: sock.sendall(CONTINUE))
            except HttpError as err:
                write_response(sock, *error_answer(err.status, err.code, str(err)), close=True)
                reader.close_gracefully()
                return
            if req is None:
                return
            try:
                status, headers, body = app(req, peer)
            except Exception as err:  # a bug of the shim's own: answer it, never drop the connection
                import traceback

                traceback.print_exc()
                status, headers, body = error_answer(500, "shim_error", f"the shim failed: {err!r}")
            write_response(sock, status, headers, body, head_only=req.method == "HEAD", close=not req.keep_alive)
            if not req.keep_alive:
                return
    except (OSError, PeerClosed):
        pass
    finally:
        sock.close()
        slots.release()
