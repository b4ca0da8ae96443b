// Answers the shim itself gives. `x-kiln-error` tells the gateway (and operators) that the
// shim, not the function's own response, produced the answer, and why.
export function shimError(res, status, code, message) {
  res
    .writeHead(status, { 'content-type': 'application/json', 'x-kiln-error': code })
    .end(JSON.stringify({ error: { code, message } }));
}

/** What API Gateway answers when the function fails: the client never sees the error itself. */
export function internalServerError(res, code) {
  res
    .writeHead(500, { 'content-type': 'application/json', 'x-kiln-error': code })
    .end('{"message":"Internal Server Error"}');
}

/** A Lambda result API Gateway refuses ("Malformed Lambda proxy response"): a 500 too. */
export class MalformedResult extends Error {}
