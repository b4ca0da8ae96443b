"""Kiln's Python shim (stdlib only): listens, loads the function on `POST /init`, and
answers every other request by calling it (SHIM-PROTOCOL v2, docs/DESIGN.md §5)."""

import _signal  # signal.py's enum classes cost ~1 ms to import; the C module is always loaded
import json
import os
import socket
import sys
import threading
import time

import kiln_logs
from kiln_context import context_environment, function_arn
from kiln_events import FORMATS, payload_format
from kiln_invoke import JSON, NO_LIMIT, fn, invoke_http, invoke_raw
from kiln_loader import LoadError, lambda_environment, load_handler, traceback_text
from kiln_server import error_answer, serve

# Lambda's limit for a synchronous invoke's payload; the gateway passes its own.
DEFAULT_MAX_BODY = 6 * 1024 * 1024
OK = (200, JSON, b'{"ok":true}')


class MainThread:
    """Runs jobs on the main thread. Connections are served on other threads, but user
    modules load here, as on Lambda: `signal.signal()` at import works only in the main thread."""

    def __init__(self):
        self.jobs = []
        self.ready = threading.Condition()

    def call(self, job):
        done = threading.Event()
        box = {}

        def run():
            try:
                box["result"] = job()
            except BaseException as err:  # handed back to the caller's thread
                box["error"] = err
            finally:
                done.set()

        with self.ready:
            self.jobs.append(run)
            self.ready.notify()
        done.wait()
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def loop(self):
        while True:
            with self.ready:
                while not self.jobs:
                    self.ready.wait()
                job = self.jobs.pop(0)
            job()


main_thread = MainThread()


def init(payload):
    """Apply the function's environment, then load its handler (on the main thread)."""
    env = payload.get("env") or {}
    # The shim's own variables were read at boot; the function sees Lambda's environment only,
    # the same after a cold or a stem start.
    for key in [k for k in os.environ if k.startswith("KILN_")]:
        del os.environ[key]
    os.environ.update({str(k): str(v) for k, v in env.items()})
    if "TZ" in env:
        time.tzset()
    code_dir = payload.get("codeDir") or "/fn"
    lambda_environment(payload.get("function") or {}, code_dir, payload.get("handler"))
    event_format = str(payload.get("eventFormat") or "2.0")
    if event_format not in FORMATS:
        raise LoadError("invalid_event_format", f'eventFormat must be "2.0" or "1.0", not "{event_format}"', None)
    concurrency = payload.get("concurrency")
    if concurrency is not None:
        try:
            concurrency = max(1, int(concurrency))
        except (TypeError, ValueError):
            raise LoadError("invalid_init", f"concurrency must be a number, not {concurrency!r}", None) from None
    kiln_logs.install_logging()
    try:
        handler = load_handler(code_dir, payload.get("handler"))
    except LoadError as err:
        if err.lambda_error:
            kiln_logs.log_error(err.lambda_error)
        raise
    fn.event_format = event_format
    fn.payload_format = payload_format(event_format)
    # Without a concurrency (a gateway older than protocol v2), the number of connections the
    # gateway opens, its own `concurrency`, is the only limit.
    fn.concurrency = concurrency or 1
    fn.slots = threading.BoundedSemaphore(concurrency) if concurrency else NO_LIMIT
    fn.arn = function_arn(os.environ["AWS_LAMBDA_FUNCTION_NAME"])
    fn.context_env = context_environment()
    fn.handler = handler


def answer_init(req):
    with fn.init_lock:
        if fn.handler is not None:
            return None
        try:
            payload = json.loads(req.body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as err:
            return error_answer(400, "invalid_init", f"POST /init needs a JSON object: {err}")
        try:
            main_thread.call(lambda: init(payload))
        except LoadError as err:
            return error_answer(400, err.code, str(err))
        except Exception as err:
            return error_answer(400, "handler_load_failed", traceback_text(err))
        return OK


def answer(req, peer=None):
    headers = req.headers
    # A probe asks whether the process serves, before /init too (SHIM-PROTOCOL.md §3).
    if headers.get("x-kiln-health") == "1":
        return OK
    if fn.handler is None and req.method == "POST" and req.target == "/init":
        init_answer = answer_init(req)
        if init_answer is not None:
            return init_answer
    if fn.handler is None:
        return error_answer(503, "not_initialized", "the function has not been loaded yet (POST /init first)")
    if headers.get("x-kiln-invoke") == "raw":
        return invoke_raw(req)
    return invoke_http(req, peer)


def listener_socket():
    """SHIM-PROTOCOL.md §1: an inherited listening socket on fd 0, else KILN_SOCKET, else TCP."""
    if os.environ.get("KILN_LISTEN_FD"):
        return socket.socket(fileno=int(os.environ["KILN_LISTEN_FD"]))
    path = os.environ.get("KILN_SOCKET")
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", int(os.environ.get("PORT", "8080"))))
    listener.listen(128)
    return listener


def init_from_environment():
    """Outside Kiln (podman, docker, Kubernetes) the image is configured by its environment."""
    try:
        init({
            "handler": os.environ["KILN_HANDLER"],
            "codeDir": os.environ.get("KILN_CODE_DIR", "/fn"),
            "eventFormat": os.environ.get("KILN_EVENT_FORMAT"),
            "concurrency": os.environ.get("KILN_CONCURRENCY") or 1,
        })
    except LoadError as err:
        print(f"kiln shim: {err.code}: {err}", file=sys.stderr, flush=True)
        sys.exit(1)


def warm_up():
    """A stem cell (KILN_WARMUP=1) loads ahead what the first requests will need."""
    import binascii  # noqa: F401
    import importlib  # noqa: F401
    import logging  # noqa: F401
    import traceback  # noqa: F401


def exit_now(*_):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def main():
    try:
        max_body = int(os.environ.get("KILN_MAX_BODY_BYTES") or DEFAULT_MAX_BODY)
    except ValueError:
        max_body = DEFAULT_MAX_BODY
    listener = listener_socket()
    if os.environ.get("KILN_WARMUP") == "1":
        warm_up()
    if not os.environ.get("KILN_SOCKET") and not os.environ.get("KILN_LISTEN_FD") and os.environ.get("KILN_HANDLER"):
        init_from_environment()
    # Kept-alive connections never close on their own: exit at once rather than wait for them.
    for sig in (_signal.SIGTERM, _signal.SIGINT):
        _signal.signal(sig, exit_now)
    # The gateway opens at most `concurrency` connections; leave room for probes and for
    # clients outside Kiln, and past the cap let connections wait in the listen backlog.
    threading.Thread(target=serve_or_exit, args=(listener, max_body), daemon=True).start()
    main_thread.loop()


def serve_or_exit(listener, max_body):
    """Accept on this thread; if accepting ever fails for good, the process must not linger."""
    try:
        serve(listener, answer, lambda: max(64, 4 * fn.concurrency), max_body)
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
