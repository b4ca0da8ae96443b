"""API Gateway payload format 1.0 (the REST API shape, which HTTP APIs offer too), as AWS
documents it: the event, and the result rules ("Lambda function response for format 1.0")."""

import json

from kiln_events import (ACCOUNT_ID, API_ID, InvalidResult, body_fields, header_name, header_value,
                         object_field, query_pairs, request_time, response_body, source_ip, status_code,
                         visible_headers)


def event(req, request_id, now, peer=None):
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


def result(payload):
    """Format 1.0: the response must be an object with statusCode; headers and
    multiValueHeaders merge, and for a name in both only multiValueHeaders' values count."""
    try:
        result = json.loads(payload)
    except ValueError:
        raise InvalidResult("the function's response is not JSON") from None
    if not (isinstance(result, dict) and "statusCode" in result):
        raise InvalidResult("payload format 1.0 needs a response object with statusCode")
    multi = {}
    for name, values in object_field(result, "multiValueHeaders").items():
        if not isinstance(values, list):
            raise InvalidResult(f"multiValueHeaders.{name} must be a list")
        multi.setdefault(header_name(name), []).extend(header_value(v) for v in values)
    headers = [(n, v) for n, v in ((header_name(k), header_value(v)) for k, v in object_field(result, "headers").items())
               if n not in multi]
    for name, values in multi.items():
        headers.extend((name, v) for v in values)
    if not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))
    return status_code(result.get("statusCode")), headers, response_body(result)
