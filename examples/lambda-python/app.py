"""An AWS Lambda handler for an API Gateway HTTP API, unmodified: reads the query, the
path and a JSON body from the v2 event and answers with statusCode/headers/body."""

import json


def lambda_handler(event, context):
    query = event.get("queryStringParameters") or {}
    body = event.get("body")
    data = json.loads(body) if body else None
    items = (data or {}).get("items", [])
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-handled-by": context.function_name},
        "body": json.dumps(
            {
                "method": event["requestContext"]["http"]["method"],
                "path": event["rawPath"],
                "query": query,
                "count": len(items),
                "total": sum(item.get("price", 0) for item in items),
                "requestId": context.aws_request_id,
            }
        ),
    }
