"""One handler for test/lambda/python.test.ts: what it does is picked by the request's path
(HTTP mode, either payload format) or by the event's "action" (raw invokes)."""

import base64
import json
import logging
import os
import threading

AT_IMPORT = {"GREETING": os.environ.get("GREETING"), "task_root": os.environ.get("LAMBDA_TASK_ROOT")}
logger = logging.getLogger("conformance")
released = threading.Event()


def describe(context):
    names = ["aws_request_id", "function_name", "function_version", "memory_limit_in_mb", "invoked_function_arn",
             "log_group_name", "log_stream_name", "client_context", "identity", "tenant_id"]
    client = context.client_context
    return {
        "class": type(context).__name__,
        "types": {n: type(getattr(context, n)).__name__ for n in names},
        "values": {n: getattr(context, n) for n in names if n not in ("identity", "client_context")},
        "identity": {"cognito_identity_id": context.identity.cognito_identity_id,
                     "cognito_identity_pool_id": context.identity.cognito_identity_pool_id},
        "client_context": None if client is None else {
            "custom": client.custom, "env": client.env,
            "client": None if client.client is None else {"installation_id": client.client.installation_id,
                                                          "app_title": client.client.app_title}},
        "remaining": context.get_remaining_time_in_millis(),
        "remaining_type": type(context.get_remaining_time_in_millis()).__name__,
        "has_request_id": hasattr(context, "request_id"),
    }


def nested_failure():
    raise ValueError("failed on purpose")


def fail():
    nested_failure()


def act(action, event, context):
    if action == "event":
        return event
    if action == "context":
        return describe(context)
    if action == "at_import":
        return AT_IMPORT
    if action == "result":
        # The result the test wants, sent as JSON in the body (base64 for bytes).
        wanted = json.loads(event["body"])
        return base64.b64decode(wanted["bytes"]) if "bytes" in wanted else wanted["result"]
    if action == "fail":
        fail()
    if action == "unserializable":
        return {"a set": {1, 2}}
    if action == "log":
        print("printed as is")
        logger.debug("a debug line")
        logger.info("an info line")
        logger.warning("a warning line")
        context.log("context.log line\n")
        try:
            fail()
        except ValueError:
            logger.exception("caught")
        return "logged"
    if action == "wait":
        logger.warning("waiting")
        return "released" if released.wait(20) else "timeout"
    if action == "release":
        logger.warning("releasing")
        released.set()
        return "ok"
    raise KeyError(action)


def first_segment(path):
    return path.strip("/").split("/")[0] or "event"


def handler(event, context):
    if "rawPath" in event:  # an API Gateway event, payload format 2.0
        return act(first_segment(event["rawPath"]), event, context)
    if "httpMethod" in event:  # format 1.0, which needs a response object
        action = first_segment(event["path"])
        result = act(action, event, context)
        return result if action == "result" else {"statusCode": 200, "body": json.dumps(result)}
    return act(event.get("action", "event"), event, context)
