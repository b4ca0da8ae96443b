// Lambda-style handlers: `handler(event, context)` (async, or with a callback as the third
// argument), given an API Gateway HTTP API v2 event and answered with its result rules,
// so existing Lambda handlers run unmodified.
import { randomUUID } from 'node:crypto';
import { readBody } from './respond.mjs';

const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]*\+(json|xml)))/i;

export function buildEvent(req, body) {
  const url = new URL(req.url, 'http://localhost');
  const headers = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const key = req.rawHeaders[i].toLowerCase();
    if (key.startsWith('x-kiln-')) continue;
    headers[key] = key in headers ? `${headers[key]},${req.rawHeaders[i + 1]}` : req.rawHeaders[i + 1];
  }
  const cookies = headers.cookie ? headers.cookie.split(/;\s*/).filter(Boolean) : undefined;
  delete headers.cookie;
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const now = new Date();
  const requestId = req.headers['x-kiln-request-id'] ?? randomUUID();
  const isText = !headers['content-type'] || TEXT_TYPE.test(headers['content-type']);
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies ? { cookies } : {}),
    headers,
    ...(url.search ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'kiln',
      apiId: 'kiln',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0],
      http: {
        method: req.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: (headers['x-forwarded-for'] ?? '127.0.0.1').split(',')[0].trim(),
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (body.length) {
    event.body = isText ? body.toString('utf8') : body.toString('base64');
    event.isBase64Encoded = !isText;
  }
  return { event, requestId };
}

export function buildContext(req, requestId, info) {
  const deadline = Number(req.headers['x-kiln-deadline']) || Date.now() + 30_000;
  const { name, version, memoryMb } = info();
  return {
    functionName: name,
    functionVersion: String(version),
    invokedFunctionArn: `arn:kiln:function:${name}:${version}`,
    memoryLimitInMB: String(memoryMb ?? ''),
    awsRequestId: requestId,
    logGroupName: `/kiln/${name}`,
    logStreamName: String(version),
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function call(handler, event, context) {
  // Lambda's older form: a non-async handler that answers through a callback.
  if (handler.length >= 3) {
    return new Promise((resolve, reject) => {
      const callback = (err, result) => (err ? reject(err) : resolve(result));
      Object.assign(context, {
        done: callback,
        succeed: (r) => callback(null, r),
        fail: (e) => callback(e),
      });
      const ret = handler(event, context, callback);
      if (ret && typeof ret.then === 'function') ret.then(resolve, reject);
    });
  }
  return handler(event, context);
}

/**
 * API Gateway's payload format 2.0 rules: a result with `statusCode` is a response;
 * anything else is a 200 `application/json` whose body is the result (a string as is,
 * other values as JSON).
 */
export function toHttpResponse(result) {
  if (result && typeof result === 'object' && 'statusCode' in result) {
    const headers = {};
    for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
    for (const [k, vs] of Object.entries(result.multiValueHeaders ?? {}))
      headers[k.toLowerCase()] = vs.map(String);
    if (Array.isArray(result.cookies) && result.cookies.length)
      headers['set-cookie'] = result.cookies.map(String);
    if (!headers['content-type']) headers['content-type'] = 'application/json';
    let body = result.body ?? '';
    if (typeof body !== 'string') body = JSON.stringify(body);
    const bytes = result.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
    return { status: Number(result.statusCode), headers, body: bytes };
  }
  const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
  return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body, 'utf8') };
}

export function lambdaInvoker(handler, info) {
  return async (req, res) => {
    const { event, requestId } = buildEvent(req, await readBody(req));
    const context = buildContext(req, requestId, info);
    const result = await call(handler, event, context);
    const { status, headers, body } = toHttpResponse(result);
    res.writeHead(status, headers);
    res.end(body);
  };
}
