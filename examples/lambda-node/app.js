// An AWS Lambda handler, unmodified: CommonJS, API Gateway HTTP API (v2) event in,
// {statusCode, headers, body} out. kiln.json names it the Lambda way: app.lambdaHandler.
exports.lambdaHandler = async (event, context) => {
  const who = event.queryStringParameters?.name ?? 'Lambda';
  const body = event.body ? JSON.parse(event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString() : event.body) : null;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'x-handled-by': context.functionName },
    body: JSON.stringify({
      message: `Hello, ${who}!`,
      method: event.requestContext.http.method,
      path: event.rawPath,
      received: body,
      requestId: context.awsRequestId,
      remainingMs: context.getRemainingTimeInMillis() > 0,
    }),
  };
};
