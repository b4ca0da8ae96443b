"""API Gateway payload format 2.0 (HTTP APIs' default), as AWS documents it: the event, and
how a function's result becomes the response ("Lambda function response for format 2.0")."""

import json

from kiln_events import (ACCOUNT_ID, API_ID, InvalidResult, body_fields, header_name, header_value,
                         object_field, query_pairs, request_time, response_body, source_ip, status_code,
                         visible_headers)


def event(req, request_id, now, peer=None):
    """Payload format 2.0: duplicate headers and query keys joined with commas, cookies apart."""
    path, _, query = req.target.partition("?")
    pairs = visible_headers(req)
    headers = {}
    cookies = []
    for name, value in pairs:
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    host = headers.get("host", "localhost")
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
        "domainName": host,
        "domainPrefix": host.split(".")[0].split(":")[0],
        "http": {
            "method": req.method,
            "path": path,
            "protocol": req.version,
            "sourceIp": source_ip(headers, peer),
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
        headers.append(("content-type", "application/json"))
    return status_code(result.get("statusCode")), headers, response_body(result)
