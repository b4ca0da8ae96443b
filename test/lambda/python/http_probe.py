"""Handlers the python shim's process tests call (test/shim-python.test.ts)."""

import logging
import sys
import threading

logger = logging.getLogger("probe")
logger.setLevel(logging.INFO)
calls = {"n": 0}
released = threading.Event()


def handler(event, context):
    calls["n"] += 1
    path = event["rawPath"]
    query = event.get("queryStringParameters") or {}
    if path == "/echo":
        return {"statusCode": 200, "body": event.get("body", ""), "isBase64Encoded": event["isBase64Encoded"],
                "headers": {"x-method": event["requestContext"]["http"]["method"]}}
    if path == "/calls":
        return calls["n"]
    if path == "/headers":
        return event["headers"]
    if path == "/wait":
        # Answers "released" only if /release ran while this request was still running.
        logger.info("waiting")
        got = released.wait(int(query.get("ms", "10000")) / 1000)
        logger.info("done waiting")
        return "released" if got else "timeout"
    if path == "/release":
        logger.info("releasing")
        released.set()
        return "ok"
    if path == "/exit":
        sys.exit(3)
    return {"statusCode": 200, "body": "hello"}
