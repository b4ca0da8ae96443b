"""API Gateway HTTP API events and result rules, payload formats 2.0 and 1.0, as AWS documents
them ("Create AWS Lambda proxy integrations for HTTP APIs in API Gateway", the payload format
structures and "Lambda function response format"). Pure functions over a parsed request.

Kiln routes every request of a function to it, as an HTTP API's `$default` route does: so
`routeKey` (2.0) and `resource` (1.0) are `$default` and there are no path parameters.
"""

import binascii
import json
import time

from kiln_http import HOP_BY_HOP

ACCOUNT_ID = "000000000000"
API_ID = "kiln"
# Content types whose bodies API Gateway hands over as text; any other body is base64.
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
              "application/x-www-form-urlencoded")


class InvalidResult(Exception):
    """A handler result API Gateway could not turn into a response (it answers 500)."""


def is_text(content_type):
    if not content_type:
        return True
    t = content_type.lower()
    return t.startswith(TEXT_TYPES) or "+json" in t or "+xml" in t


def unquote(text):
    """Percent-decoding of a query component (urllib.parse would import re and more)."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    out = bytearray()
    raw = text.encode("utf-8")
    i = 0
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


def query_pairs(query):
    pairs = []
    for part in query.split("&"):
        if part:
            k, _, v = part.partition("=")
            pairs.append((unquote(k), unquote(v)))
    return pairs


def b64encode(data):
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def request_time(now):
    """`12/Mar/2020:19:03:58 +0000`, the format of requestContext.time (CLF)."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def visible_headers(req):
    """(name, value) pairs a handler sees: lower-cased names, without Kiln's own `x-kiln-*`
    headers and without the hop-by-hop headers of the connection to the shim."""
    return [(n.lower(), v) for n, v in req.raw_headers
            if not n.lower().startswith("x-kiln-") and n.lower() not in HOP_BY_HOP]


def body_fields(req, content_type):
    """(body, isBase64Encoded): text bodies as text, anything else base64."""
    if not req.body:
        return None, False
    if is_text(content_type):
        try:
            return req.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return b64encode(req.body), True


def source_ip(headers, peer):
    forwarded = headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return peer or "127.0.0.1"


def event_v2(req, request_id, now, peer=None):
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


def event_v1(req, request_id, now, peer=None):
    """Payload format 1.0 (the REST API shape): single-value maps hold the last value,
    multi-value maps every value; absent maps are null; the cookie header stays a header."""
    path, _, query = req.target.partition("?")
    headers = {}
    multi_headers = {}
    for name, value in visible_headers(req):
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    params = multi_params = None
    if query:
        params = {}
        multi_params = {}
        for k, v in query_pairs(query):
            params[k] = v
            multi_params.setdefault(k, []).append(v)
    host = headers.get("host", "localhost")
    user_agent = headers.get("user-agent", "")
    body, encoded = body_fields(req, headers.get("content-type"))
    return {
        "version": "1.0",
        "resource": "$default",
        "path": path,
        "httpMethod": req.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": params,
        "multiValueQueryStringParameters": multi_params,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "authorizer": {"claims": None, "scopes": None},
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "extendedRequestId": request_id,
            "httpMethod": req.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip(headers, peer),
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": path,
            "protocol": req.version,
            "requestId": request_id,
            "requestTime": request_time(now),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": None,
            "resourcePath": "$default",
            "stage": "$default",
        },
        "pathParameters": None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": encoded,
    }


EVENT_BUILDERS = {"2.0": event_v2, "1.0": event_v1}


class MarshalError(Exception):
    """What Lambda's python runtime raises as Runtime.MarshalError."""


def _default(obj):
    # Lambda's marshaller (simplejson) writes a Decimal as the number it holds: DynamoDB
    # items come back full of them. The stdlib has no raw-number hook, so int or float.
    if type(obj).__name__ == "Decimal":
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def marshal(result):
    """The handler's result as Lambda's python runtime sends it on: bytes as they are,
    anything else as JSON (awslambdaric's lambda_runtime_marshaller)."""
    if isinstance(result, bytes):
        return result
    try:
        return json.dumps(result, default=_default).encode("utf-8")
    except Exception as err:
        raise MarshalError(f"Unable to marshal response: {err}") from err


def _status(value):
    if isinstance(value, bool):
        raise InvalidResult(f"statusCode {value!r} is not a number")
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise InvalidResult(f"statusCode {value!r} is not a number") from None
    if not 100 <= status <= 599:
        raise InvalidResult(f"statusCode {status} is not an HTTP status")
    return status


def _header_value(value):
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    if "\r" in text or "\n" in text:
        raise InvalidResult("a header value holds a line break")
    return text


def _header_name(name):
    text = str(name).lower()
    if not text or any(c in text for c in " \t\r\n:"):
        raise InvalidResult(f"bad header name {name!r}")
    return text


def _body(result):
    body = result.get("body")
    if body is None:
        body = ""
    elif not isinstance(body, str):
        # AWS documents body as a string; Kiln writes anything else as JSON instead of failing.
        body = json.dumps(body)
    if result.get("isBase64Encoded"):
        try:
            return binascii.a2b_base64(body)
        except binascii.Error as err:
            raise InvalidResult(f"isBase64Encoded is true but body is not base64: {err}") from None
    return body.encode("utf-8")


def _map(result, key):
    value = result.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidResult(f"{key} must be an object")
    return value


def result_v2(payload):
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
    headers = [(_header_name(k), _header_value(v)) for k, v in _map(result, "headers").items()]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise InvalidResult("cookies must be a list")
    headers.extend(("set-cookie", _header_value(c)) for c in cookies)
    if not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))
    return _status(result.get("statusCode")), headers, _body(result)


def result_v1(payload):
    """Format 1.0: the response must be an object with statusCode; headers and
    multiValueHeaders merge, and for a name in both only multiValueHeaders' values count."""
    try:
        result = json.loads(payload)
    except ValueError:
        raise InvalidResult("the function's response is not JSON") from None
    if not (isinstance(result, dict) and "statusCode" in result):
        raise InvalidResult("payload format 1.0 needs a response object with statusCode")
    multi = {}
    for name, values in _map(result, "multiValueHeaders").items():
        if not isinstance(values, list):
            raise InvalidResult(f"multiValueHeaders.{name} must be a list")
        multi.setdefault(_header_name(name), []).extend(_header_value(v) for v in values)
    headers = [(n, v) for n, v in ((_header_name(k), _header_value(v)) for k, v in _map(result, "headers").items())
               if n not in multi]
    for name, values in multi.items():
        headers.extend((name, v) for v in values)
    if not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))
    return _status(result.get("statusCode")), headers, _body(result)


RESULT_RULES = {"2.0": result_v2, "1.0": result_v1}
