"""Kiln's Python shim: the process inside every python container (stdlib only).

HTTP/1.1 on the instance's unix socket (KILN_SOCKET), or TCP :8080 outside Kiln, where it
loads KILN_HANDLER at boot. Protocol (docs/DESIGN.md §5): `POST /init {handler, env, codeDir}`
once, then every request is the user's, passed to `handler(event, context)`.
Started with `python3 -S`: nothing is imported that a request does not need.
"""

import importlib
import json
import os
import selectors
import socket
import sys
import time

SHIM_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SHIM_DIR)

from kiln_http import Connection  # noqa: E402
from kiln_lambda import Context, build_event, to_response  # noqa: E402

state = {"handler": None, "info": {"name": os.environ.get("KILN_FUNCTION", "function"),
                                   "version": os.environ.get("KILN_VERSION", "$LATEST"), "memoryMb": 0}}


class LoadError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def error_response(status, code, message):
    body = json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")
    return status, [("content-type", "application/json"), ("x-kiln-error", code)], body


def load_handler(code_dir, spec):
    """`module.function` (default handler.handler), importable from code_dir and its site-packages."""
    module_name, _, func_name = (spec or "handler.handler").rpartition(".")
    if not module_name:
        raise LoadError("handler_not_found", f'handler "{spec}" must be module.function, e.g. handler.handler')
    for path in (os.path.join(code_dir, "site-packages"), code_dir):
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name or module_name.startswith(f"{err.name}."):
            raise LoadError("handler_not_found", f"no module {module_name} in {code_dir}") from err
        raise LoadError("handler_load_failed", f"importing {module_name} failed: {traceback_text(err)}") from err
    except BaseException as err:  # a SyntaxError or anything the module raised at import
        raise LoadError("handler_load_failed", f"importing {module_name} failed: {traceback_text(err)}") from err
    func = getattr(module, func_name, None)
    if not callable(func):
        raise LoadError("handler_not_found", f"module {module_name} has no function {func_name}(event, context)")
    return func


def traceback_text(err, lines=20):
    """The traceback from the user's own frames on: the shim's and importlib's are noise."""
    import traceback

    noise = ("<frozen", SHIM_DIR, os.path.dirname(importlib.__file__))
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(noise)]
    text = "".join(traceback.format_list(frames) + traceback.format_exception_only(type(err), err))
    if frames:
        text = "Traceback (most recent call last):\n" + text
    return "\n".join(text.rstrip().splitlines()[-lines:])


def init(body):
    payload = json.loads(body or b"{}")
    os.environ.update({str(k): str(v) for k, v in (payload.get("env") or {}).items()})
    if payload.get("function"):
        state["info"] = {**state["info"], **payload["function"]}
    state["handler"] = load_handler(payload.get("codeDir", "/fn"), payload.get("handler"))


def answer(req):
    handler = state["handler"]
    if handler is None:
        if req.method != "POST" or req.target != "/init":
            return error_response(503, "not_initialized", "the function has not been loaded yet (POST /init first)")
        try:
            init(req.body)
        except LoadError as err:
            return error_response(400, err.code, str(err))
        except Exception as err:
            return error_response(400, "handler_load_failed", traceback_text(err))
        return 200, [("content-type", "application/json")], b'{"ok":true}'
    event, request_id = build_event(req)
    deadline = float(req.headers.get("x-kiln-deadline") or (time.time() * 1000 + 30000))
    try:
        result = handler(event, Context(request_id, deadline, state["info"]))
        return to_response(result)
    except Exception as err:
        print(traceback_text(err), file=sys.stderr, flush=True)
        return error_response(500, "handler_error", f"{type(err).__name__}: {err}")


def serve(listener):
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is listener:
                sock, _ = listener.accept()
                sel.register(sock, selectors.EVENT_READ, Connection(sock))
                continue
            conn = key.data
            try:
                req = conn.read_request()
                if req is not None:
                    conn.write_response(*answer(req))
                    continue
            except (OSError, ValueError):
                pass
            sel.unregister(conn.sock)
            conn.sock.close()


def main():
    socket_path = os.environ.get("KILN_SOCKET")
    if socket_path:
        try:
            os.unlink(socket_path)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(socket_path)
    else:
        if os.environ.get("KILN_HANDLER"):
            state["handler"] = load_handler(os.environ.get("KILN_CODE_DIR", "/fn"), os.environ["KILN_HANDLER"])
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", int(os.environ.get("PORT", "8080"))))
    listener.listen(64)
    serve(listener)


if __name__ == "__main__":
    main()
