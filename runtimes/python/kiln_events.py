"""What API Gateway's two payload formats share: reading a request into event fields, and
reading a function's result back (AWS: "Create AWS Lambda proxy integrations for HTTP APIs in
API Gateway"). Each format is a module of its own with `event()` and `result()`, imported only
by the functions that use it: kiln_format_v2 (2.0, the default) and kiln_format_v1 (1.0).

Kiln routes every request of a function to it, as an HTTP API's `$default` route does: so
`routeKey` (2.0) and `resource` (1.0) are `$default` and there are no path parameters.
"""

import binascii
import json
import sys
import time

from kiln_http import HOP_BY_HOP

FORMATS = {"2.0": "kiln_format_v2", "1.0": "kiln_format_v1"}

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


HEX_DIGITS = b"0123456789abcdefABCDEF"


def percent_decoded(text, lenient):
    """The bytes of `text` with its %XX escapes decoded. A malformed escape is kept as it is
    (`lenient`) or makes the answer None."""
    raw = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        pair = raw[i + 1:i + 3] if raw[i] == 0x25 else b""
        if len(pair) == 2 and pair[0] in HEX_DIGITS and pair[1] in HEX_DIGITS:
            out.append(int(pair, 16))
            i += 3
            continue
        if raw[i] == 0x25 and not lenient:
            return None
        out.append(raw[i])
        i += 1
    return bytes(out)


def unquote(text):
    """A query component decoded as URLSearchParams does (`+` is a space; a malformed escape
    or byte stays as it is); urllib.parse would import re and more."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    return percent_decoded(text, True).decode("utf-8", "replace")


def unquote_path(text):
    """A path decoded as decodeURIComponent does, or as sent if its escapes are malformed."""
    if "%" not in text:
        return text
    decoded = percent_decoded(text, False)
    try:
        return text if decoded is None else decoded.decode("utf-8")
    except UnicodeDecodeError:
        return text


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
    """(name, value) pairs a handler sees, names as sent: without Kiln's own `x-kiln-*`
    headers and without the hop-by-hop headers of the connection to the shim."""
    return [(n, v) for n, v in req.raw_headers
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


def source_ip(req, peer):
    """The client's address. Over TCP, the connection's peer. Behind Kiln's gateway (a unix
    socket) the last X-Forwarded-For entry, the one the gateway appended from its own socket:
    earlier entries are the client's word."""
    if peer:
        return peer[7:] if peer.startswith("::ffff:") else peer
    forwarded = req.headers.get("x-forwarded-for")
    if not forwarded:
        return "127.0.0.1"
    return forwarded.rsplit(",", 1)[-1].strip()


def domain_name(req):
    """The Host header without its port: API Gateway's domainName."""
    host = req.headers.get("host") or "localhost"
    if host.startswith("["):
        return host[:host.find("]") + 1]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


class MarshalError(Exception):
    """What Lambda's python runtime raises as Runtime.MarshalError."""


def _default(obj):
    # Lambda's marshaller (simplejson) writes a Decimal as the number it holds: DynamoDB
    # items come back full of them. The stdlib has no raw-number hook, so int or float.
    if type(obj).__name__ == "Decimal":
        if obj.is_finite() and obj == obj.to_integral_value():
            return int(obj)
        return float(obj)  # NaN and infinities included, as allow_nan writes them
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


def status_code(value):
    if isinstance(value, bool):
        raise InvalidResult(f"statusCode {value!r} is not a number")
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise InvalidResult(f"statusCode {value!r} is not a number") from None
    if not 100 <= status <= 599:
        raise InvalidResult(f"statusCode {status} is not an HTTP status")
    return status


def header_value(value):
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    if "\r" in text or "\n" in text:
        raise InvalidResult("a header value holds a line break")
    return text


def header_name(name):
    text = str(name).lower()
    if not text or any(c in text for c in " \t\r\n:"):
        raise InvalidResult(f"bad header name {name!r}")
    return text


def response_body(result):
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


def object_field(result, key):
    value = result.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidResult(f"{key} must be an object")
    return value


def payload_format(version):
    """The module of payload format `version` ("2.0" or "1.0")."""
    name = FORMATS[version]
    __import__(name)
    return sys.modules[name]
