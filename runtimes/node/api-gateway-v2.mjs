// API Gateway HTTP API payload format 2.0: the event a request becomes, and the rules that make
// a handler's result the response (AWS, "Create AWS Lambda proxy integrations for HTTP APIs").
import {
  ACCOUNT_ID,
  API_ID,
  domainName,
  encodeBody,
  isObject,
  queryPairs,
  requestTime,
  resultBody,
  STAGE,
  sourceIp,
  splitTarget,
} from './api-gateway.mjs';

export function buildEvent(req, requestId, now = new Date()) {
  const { path, query } = splitTarget(req.url);
  // Header names are lowercase; repeated headers are joined with commas; cookie headers
  // move to `cookies`, one entry per cookie.
  const headers = {};
  let cookies;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (key === 'cookie') {
      cookies ??= [];
      for (const c of value.split(';')) if (c.trim()) cookies.push(c.trim());
    } else {
      headers[key] = key in headers ? `${headers[key]},${value}` : value;
    }
  }
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
  };
  if (cookies) event.cookies = cookies;
  event.headers = headers;
  const pairs = queryPairs(query);
  if (pairs.length) {
    const params = {};
    for (const [k, v] of pairs) params[k] = k in params ? `${params[k]},${v}` : v;
    event.queryStringParameters = params;
  }
  const domain = domainName(req);
  event.requestContext = {
    accountId: ACCOUNT_ID,
    apiId: API_ID,
    domainName: domain,
    domainPrefix: domain.split('.')[0],
    http: {
      method: req.method,
      path,
      protocol: `HTTP/${req.httpVersion}`,
      sourceIp: sourceIp(req),
      userAgent: headers['user-agent'] ?? '',
    },
    requestId,
    routeKey: '$default',
    stage: STAGE,
    time: requestTime(now),
    timeEpoch: now.getTime(),
  };
  const { body, isBase64Encoded } = encodeBody(req.body, headers['content-type']);
  if (body !== undefined) event.body = body;
  event.isBase64Encoded = isBase64Encoded;
  return event;
}

// AWS documents no default for a result with statusCode but no content-type; HTTP APIs were
// seen answering text/plain (aasisodiya.github.io, "AWS API Gateway Response Handling", 2020).
const DEFAULT_TYPE = 'text/plain; charset=utf-8';

/**
 * Format 2.0's result rules: an object with `statusCode` is the response (`headers`,
 * `cookies`, `body`, `isBase64Encoded`); any other value is a 200 `application/json` whose
 * body is the value (a string as is, anything else as JSON).
 */
export function toHttpResponse(result) {
  if (isObject(result) && 'statusCode' in result) {
    const headers = {};
    for (const [k, v] of Object.entries(isObject(result.headers) ? result.headers : {})) {
      headers[k.toLowerCase()] = String(v);
    }
    if (Array.isArray(result.cookies) && result.cookies.length) {
      const own = headers['set-cookie'];
      headers['set-cookie'] = [...(own === undefined ? [] : [own]), ...result.cookies.map(String)];
    }
    headers['content-type'] ??= DEFAULT_TYPE;
    return { status: Number(result.statusCode), headers, body: resultBody(result) };
  }
  const body = typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null');
  return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
}
