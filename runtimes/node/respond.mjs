// Errors the shim itself answers with. `x-kiln-error` tells the gateway that the shim,
// not the function, produced this response.
export function shimError(res, status, code, message) {
  res
    .writeHead(status, { 'content-type': 'application/json', 'x-kiln-error': code })
    .end(JSON.stringify({ error: { code, message } }));
}

/** The request's body: http-lite reads requests whole. */
export async function readBody(req) {
  return req.body;
}
