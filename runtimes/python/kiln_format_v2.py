"""API Gateway payload format 2.0 (HTTP APIs' default), as AWS documents it: the event, and
how a function's result becomes the response ("Lambda function response for format 2.0")."""

import json

from kiln_events import (ACCOUNT_ID, API_ID, InvalidResult, body_fields, domain_name, header_name, header_value,
                         object_field, query_pairs, request_time, response_body, source_ip, status_code,
                         visible_headers)


def event(req, request_id, now, peer=None):
    """Payload format 2.0: duplicate headers and query keys joined with commas, cookies apart."""
    path, _, query = req.target.partition("?")
    headers = {}
    cookies = []
    for name, value in visible_headers(req):
        name = name.lower()
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    domain = domain_name(req)
    event = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query}
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        params = {}
        for k, v in query_pairs(query):
            params[k] = f"{params[k]},{v}" if k in params else v
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": req.method,
            "path": path,
            "protocol": req.version,
            "sourceIp": source_ip(req, peer),
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": request_time(now),
        "timeEpoch": int(now * 1000),
    }
    body, encoded = body_fields(req, headers.get("content-type"))
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


# AWS documents no default for a response without content-type; HTTP APIs were seen answering
# text/plain (aasisodiya.github.io, "AWS API Gateway Response Handling", 2020; the node shim too).
DEFAULT_TYPE = "text/plain; charset=utf-8"


def result(payload):
    """Format 2.0: an object with statusCode is the response (headers, cookies, body,
    isBase64Encoded); any other valid JSON is a 200 application/json whose body is the
    payload (a JSON string: its text)."""
    try:
        result = json.loads(payload)
    except ValueError:
        raise InvalidResult("the function's response is not JSON") from None
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result.encode("utf-8") if isinstance(result, str) else payload
        return 200, [("content-type", "application/json")], body
    headers = [(header_name(k), header_value(v)) for k, v in object_field(result, "headers").items()]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise InvalidResult("cookies must be a list")
    headers.extend(("set-cookie", header_value(c)) for c in cookies)
    if not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", DEFAULT_TYPE))
    return status_code(result.get("statusCode")), headers, response_body(result)
