"""API Gateway payload format 1.0 (the REST API shape, which HTTP APIs offer too), as AWS
documents it: the event, and the result rules ("Lambda function response for format 1.0")."""

import json

from kiln_events import (ACCOUNT_ID, API_ID, InvalidResult, body_fields, domain_name, header_name, header_value,
                         object_field, query_pairs, request_time, response_body, source_ip, status_code, unquote_path,
                         visible_headers)


def event(req, request_id, now, peer=None):
    """Payload format 1.0 (the REST API shape): header names as sent; single-value maps hold
    the last value, multi-value maps every value; absent maps are null. Every path reaches the
    one handler as on a REST API whose `/` and greedy `/{proxy+}` resources both integrate
    with it: `resource` names the one that matched, `pathParameters.proxy` the rest, decoded."""
    path, _, query = req.target.partition("?")
    headers = {}
    multi_headers = {}
    spelling = {}
    for name, value in visible_headers(req):
        name = spelling.setdefault(name.lower(), name)
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    params = multi_params = None
    pairs = query_pairs(query)
    if pairs:
        params = {}
        multi_params = {}
        for k, v in pairs:
            params[k] = v
            multi_params.setdefault(k, []).append(v)
    root = path in ("/", "")
    resource = "/" if root else "/{proxy+}"
    domain = domain_name(req)
    body, encoded = body_fields(req, req.headers.get("content-type"))
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": req.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": params,
        "multiValueQueryStringParameters": multi_params,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "authorizer": {"claims": None, "scopes": None},
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
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
                "sourceIp": source_ip(req, peer),
                "user": None,
                "userAgent": req.headers.get("user-agent", ""),
                "userArn": None,
            },
            "path": path,
            "protocol": req.version,
            "requestId": request_id,
            "requestTime": request_time(now),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": None,
            "resourcePath": resource,
            "stage": "$default",
        },
        "pathParameters": None if root else {"proxy": unquote_path(path[1:])},
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
        values = values if isinstance(values, list) else [values]
        multi.setdefault(header_name(name), []).extend(header_value(v) for v in values)
    headers = [(n, v) for n, v in ((header_name(k), header_value(v)) for k, v in object_field(result, "headers").items())
               if n not in multi]
    for name, values in multi.items():
        headers.extend((name, v) for v in values)
    if not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))
    return status_code(result.get("statusCode")), headers, response_body(result)
