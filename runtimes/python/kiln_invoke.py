"""One invocation: the event in (API Gateway HTTP API event, or a Lambda Invoke's raw event),
the handler called in one of the function's `concurrency` slots, its result or error out as
API Gateway and Lambda answer them (SHIM-PROTOCOL.md §3, §4)."""

import json
import os
import sys
import threading
import time

import kiln_logs
from kiln_context import LambdaContext
from kiln_events import InvalidResult, MarshalError, marshal
from kiln_loader import SHIM_DIR
from kiln_server import error_answer

DEFAULT_TIMEOUT_MS = 30_000
JSON = [("content-type", "application/json")]
# The body API Gateway (HTTP API) answers with a 500 when the function fails.
INTERNAL_ERROR_BODY = b'{"message":"Internal Server Error"}'


class NoLimit:
    """A semaphore that never waits."""

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


NO_LIMIT = NoLimit()


class Function:
    """The loaded handler and how to call it; `handler` is None until /init."""

    def __init__(self):
        self.handler = None
        self.event_format = "2.0"
        self.payload_format = None  # the module of event_format: event() and result()
        self.concurrency = 1
        self.slots = threading.BoundedSemaphore(1)
        self.arn = None
        self.context_env = None
        self.init_lock = threading.Lock()


fn = Function()


def request_id_of(req):
    rid = req.headers.get("x-kiln-request-id")
    if rid:
        return rid
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # a version 4 UUID, like Lambda's
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def deadline_of(req):
    try:
        return int(float(req.headers["x-kiln-deadline"]))
    except (KeyError, ValueError):
        return int(time.time() * 1000) + DEFAULT_TIMEOUT_MS


def call_handler(event, context):
    """Run the handler in one of the function's `concurrency` slots, its log lines tagged."""
    with fn.slots:
        kiln_logs.begin(context.aws_request_id)
        try:
            return fn.handler(event, context)
        except SystemExit as err:
            # On Lambda the runtime process ends: end this one too, not just its thread.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(err.code if isinstance(err.code, int) else 1)
        finally:
            kiln_logs.end()


def invoke_http(req, peer):
    request_id = request_id_of(req)
    event = fn.payload_format.event(req, request_id, time.time(), peer)
    context = LambdaContext(request_id, None, None, deadline_of(req), fn.arn, env=fn.context_env)
    try:
        payload = marshal(call_handler(event, context))
    except MarshalError as err:
        kiln_logs.log_error(kiln_logs.make_error(str(err), "Runtime.MarshalError", None, request_id))
        return internal_error("handler_error")
    except Exception as err:
        kiln_logs.log_error(kiln_logs.error_result(err, request_id, SHIM_DIR))
        return internal_error("handler_error")
    try:
        return fn.payload_format.result(payload)
    except InvalidResult as err:
        # What API Gateway logs for it (`$context.integrationErrorMessage`).
        kiln_logs.log_line("ERROR", request_id, f"Malformed Lambda proxy response: {err}")
        return internal_error("invalid_result")


def internal_error(code):
    """What API Gateway answers for a failed function; Kiln's own code stays in a header."""
    return 500, JSON + [("x-kiln-error", code)], INTERNAL_ERROR_BODY


def invoke_raw(req):
    """Lambda's Invoke API: the body is the event; the answer is the result as JSON, or
    Lambda's error object with `x-kiln-function-error: Unhandled`."""
    request_id = request_id_of(req)
    try:
        event = json.loads(req.body) if req.body.strip() else {}
    except ValueError as err:
        return error_answer(400, "invalid_request_content", f"Could not parse request body into json: {err}")
    client_context = None
    encoded = req.headers.get("x-amz-client-context")
    if encoded:
        try:
            import binascii

            client_context = json.loads(binascii.a2b_base64(encoded))
            if not isinstance(client_context, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            return error_answer(400, "invalid_request_content",
                                f"X-Amz-Client-Context must be a base64-encoded JSON object: {err}")
    context = LambdaContext(request_id, client_context, None, deadline_of(req), fn.arn, env=fn.context_env)
    try:
        result = call_handler(event, context)
        payload = marshal(result)
    except MarshalError as err:
        return function_error(kiln_logs.make_error(str(err), "Runtime.MarshalError", None, request_id))
    except Exception as err:
        return function_error(kiln_logs.error_result(err, request_id, SHIM_DIR))
    content_type = "application/octet-stream" if isinstance(result, bytes) else "application/json"
    return 200, [("content-type", content_type)], payload


def function_error(error):
    kiln_logs.log_error(error)
    body = json.dumps(error).encode("utf-8")
    return 200, JSON + [("x-kiln-function-error", "Unhandled")], body
