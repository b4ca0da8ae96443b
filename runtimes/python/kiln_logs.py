"""Logs the way Lambda's python runtime writes them (awslambdaric bootstrap.py), with the
request id of the thread that logs, so lines stay attributable when requests run at once.

- `logging`: a root handler with Lambda's format, `[LEVEL]\\t<time>Z\\t<requestId>\\t<message>`,
  times in UTC, root level from AWS_LAMBDA_LOG_LEVEL (else logging's own WARNING), JSON
  records when AWS_LAMBDA_LOG_FORMAT=JSON. One record is one line: line breaks inside a
  record become `\\r`, as the runtime does for errors on a plain stdout.
- A handler's uncaught error: `[ERROR] <Type>: <message>` and the traceback, one line joined
  with `\\r` and indented with no-break spaces, as the runtime writes it; on stderr.
- `print` is left alone: raw, as on Lambda.

`logging` costs milliseconds to import, so the handler is installed the moment user code
first imports it (an import hook), not at boot; its formats live in kiln_log_format, loaded
with it.
"""

import os
import sys
import threading
import time

ERROR_LINE_JOIN = "\r"
ERROR_INDENT = "\u00a0"  # awslambdaric: NO-BREAK SPACE replaces the traceback's indentation
JSON_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_local = threading.local()
# Requests in flight by thread: a thread the handler started itself has no request of its
# own, and is attributed to the one request in flight when there is exactly one.
_inflight = {}


def begin(request_id):
    _local.request_id = request_id
    _inflight[threading.get_ident()] = request_id


def end():
    _local.request_id = None
    _inflight.pop(threading.get_ident(), None)


def current_request_id():
    rid = getattr(_local, "request_id", None)
    if rid:
        return rid
    if len(_inflight) == 1:
        try:
            return next(iter(_inflight.values()))
        except (StopIteration, RuntimeError):
            pass
    return ""


def json_format():
    return (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"


def install_logging():
    """Configure `logging` now if it is loaded, else as soon as something imports it."""
    if "logging" in sys.modules:
        configure_logging(sys.modules["logging"])
    elif not any(isinstance(f, LoggingImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, LoggingImportHook())


def configure_logging(logging):
    from kiln_log_format import configure

    configure(logging)


class LoggingImportHook:
    """A meta path finder that only wraps the loading of `logging` to configure it after."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "logging":
            return None
        sys.meta_path.remove(self)
        from importlib.machinery import PathFinder, SourceFileLoader

        spec = PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, SourceFileLoader):
            return spec

        class ConfiguringLoader(SourceFileLoader):
            def exec_module(self, module):
                super().exec_module(module)
                configure_logging(module)

        spec.loader = ConfiguringLoader(spec.loader.name, spec.loader.path)
        return spec


def error_result(err, request_id, skip_dir):
    """Lambda's error object for an exception: errorMessage, errorType, requestId and the
    stack as `traceback.format_list` lines, the shim's own frames on top dropped."""
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(err.__traceback__)]
    for i, frame in enumerate(frames):
        if not frame[0].startswith(skip_dir):
            frames = frames[i:]
            break
    return make_error(str(err), type(err).__name__, traceback.format_list(frames), request_id)


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def log_error(result):
    """The runtime's log line for an error object, on stderr."""
    if json_format():
        import json

        line = json.dumps({"timestamp": time.strftime(JSON_DATE_FORMAT, time.gmtime()), "log_level": "ERROR",
                           **result})
    else:
        head = "[ERROR]"
        if result.get("errorType"):
            head += " " + result["errorType"]
        if result.get("errorMessage"):
            if result.get("errorType"):
                head += ":"
            head += " " + result["errorMessage"]
        lines = [head]
        if result.get("stackTrace") is not None:
            lines.append("Traceback (most recent call last):")
            for element in result["stackTrace"]:
                if element == "":
                    lines.append("")
                for line in element.splitlines():
                    stripped = line.lstrip(" ")
                    lines.append(ERROR_INDENT * (len(line) - len(stripped)) + stripped)
        line = ERROR_LINE_JOIN.join(lines)
    sys.stderr.write(line.replace("\n", ERROR_LINE_JOIN) + "\n")
    sys.stderr.flush()


def log_line(level, request_id, message):
    """A line of the shim's own in the `logging` handler's format, on stderr."""
    now = time.time()
    if json_format():
        import json

        line = json.dumps({"timestamp": time.strftime(JSON_DATE_FORMAT, time.gmtime(now)), "level": level,
                           "message": message, "requestId": request_id}, ensure_ascii=False)
    else:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        line = f"[{level}]\t{stamp}\t{request_id}\t{message}"
    sys.stderr.write(line.replace("\n", ERROR_LINE_JOIN) + "\n")
    sys.stderr.flush()
