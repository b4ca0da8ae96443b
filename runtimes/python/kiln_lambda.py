"""Lambda-style handlers: def handler(event, context), given the API Gateway HTTP API v2
event the Node and Java shims build, answered with the same result rules."""

import binascii
import json
import os
import time

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
              "application/x-www-form-urlencoded")


def is_text(content_type):
    if not content_type:
        return True
    t = content_type.lower()
    return t.startswith(TEXT_TYPES) or "+json" in t or "+xml" in t


def unquote(text):
    """Percent-decoding of a query component (urllib.parse would import re: ~6 ms)."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        if raw[i] == 0x25 and i + 3 <= len(raw):
            try:
                out.append(int(raw[i + 1:i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(raw[i])
        i += 1
    return out.decode("utf-8", "replace")


def parse_query(query):
    for pair in query.split("&"):
        if pair:
            k, _, v = pair.partition("=")
            yield unquote(k), unquote(v)


def b64encode(data):
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def build_event(req):
    path, _, query = req.target.partition("?")
    headers = {k: v for k, v in req.headers.items() if not k.startswith("x-kiln-") and k != "cookie"}
    params = {}
    for k, v in parse_query(query):
        params[k] = f"{params[k]},{v}" if k in params else v
    now = time.time()
    host = headers.get("host", "localhost")
    request_id = req.headers.get("x-kiln-request-id") or os.urandom(16).hex()
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "kiln",
            "apiId": "kiln",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": req.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": headers.get("x-forwarded-for", "127.0.0.1").split(",")[0].strip(),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if "cookie" in req.headers:
        event["cookies"] = [c for c in req.headers["cookie"].split("; ") if c]
    if query:
        event["queryStringParameters"] = params
    if req.body:
        text = is_text(headers.get("content-type"))
        event["body"] = req.body.decode("utf-8") if text else b64encode(req.body)
        event["isBase64Encoded"] = not text
    return event, request_id


class Context:
    """Lambda's context object: the names Lambda's Python runtime gives it."""

    def __init__(self, request_id, deadline_ms, info):
        self.aws_request_id = request_id
        self.request_id = request_id
        self.function_name = info["name"]
        self.function_version = str(info["version"])
        self.memory_limit_in_mb = info.get("memoryMb", 0)
        self.invoked_function_arn = f"arn:kiln:function:{info['name']}:{info['version']}"
        self.log_group_name = f"/kiln/{info['name']}"
        self.log_stream_name = str(info["version"])
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def to_response(result):
    """A dict with statusCode is a response; a str is a 200 text/plain; anything else a 200 JSON."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = [(str(k).lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(k).lower(), str(v)) for v in values)
        headers.extend(("set-cookie", str(c)) for c in result.get("cookies") or [])
        if not any(k == "content-type" for k, _ in headers):
            headers.append(("content-type", "application/json"))
        body = result.get("body", "")
        if not isinstance(body, str):
            body = json.dumps(body)
        data = binascii.a2b_base64(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        return int(result["statusCode"]), headers, data
    if isinstance(result, str):
        return 200, [("content-type", "text/plain; charset=utf-8")], result.encode("utf-8")
    return 200, [("content-type", "application/json")], json.dumps(result).encode("utf-8")
