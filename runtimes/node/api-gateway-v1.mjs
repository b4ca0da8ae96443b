// API Gateway payload format 1.0 (an HTTP API's 1.0 integration; the REST API proxy event with
// `version`): the event a request becomes and the rules for a handler's result. AWS, "Create
// AWS Lambda proxy integrations for HTTP APIs" and "Lambda proxy integrations in API Gateway".
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
import { MalformedResult } from './respond.mjs';

function decode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Every path of a function reaches its one handler, as on a REST API whose root `/` and
 * greedy `/{proxy+}` resources both integrate with it: `resource` names which one matched,
 * and `pathParameters.proxy` holds the rest of the path, decoded.
 */
export function buildEvent(req, requestId, now = new Date()) {
  const { path, query } = splitTarget(req.url);
  // Header names as sent; `headers` keeps the last value of a repeated header,
  // `multiValueHeaders` all of them.
  const headers = {};
  const multiValueHeaders = {};
  const names = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    names[lower] ??= raw[i];
    const name = names[lower];
    headers[name] = raw[i + 1];
    multiValueHeaders[name] ??= [];
    multiValueHeaders[name].push(raw[i + 1]);
  }
  let queryStringParameters = null;
  let multiValueQueryStringParameters = null;
  const pairs = queryPairs(query);
  if (pairs.length) {
    queryStringParameters = {};
    multiValueQueryStringParameters = {};
    for (const [k, v] of pairs) {
      queryStringParameters[k] = v;
      multiValueQueryStringParameters[k] ??= [];
      multiValueQueryStringParameters[k].push(v);
    }
  }
  const root = path === '/' || path === '';
  const resource = root ? '/' : '/{proxy+}';
  const domain = domainName(req);
  const { body, isBase64Encoded } = encodeBody(req.body, req.headers['content-type']);
  return {
    version: '1.0',
    resource,
    path,
    httpMethod: req.method,
    headers,
    multiValueHeaders,
    queryStringParameters,
    multiValueQueryStringParameters,
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: API_ID,
      // As in AWS's payload format 1.0 example: no authorizer, so its claims and scopes are null.
      authorizer: { claims: null, scopes: null },
      domainName: domain,
      domainPrefix: domain.split('.')[0],
      extendedRequestId: requestId,
      httpMethod: req.method,
      identity: {
        accessKey: null,
        accountId: null,
        caller: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: sourceIp(req),
        user: null,
        userAgent: req.headers['user-agent'] ?? '',
        userArn: null,
      },
      path,
      protocol: `HTTP/${req.httpVersion}`,
      requestId,
      requestTime: requestTime(now),
      requestTimeEpoch: now.getTime(),
      resourceId: null,
      resourcePath: resource,
      stage: STAGE,
    },
    pathParameters: root ? null : { proxy: decode(path.slice(1)) },
    stageVariables: null,
    body: body ?? null,
    isBase64Encoded,
  };
}

// REST APIs answer a proxy result without content-type as application/json; format 1.0
// exists for handlers written for them.
const DEFAULT_TYPE = 'application/json';

/**
 * Format 1.0's result rules: the result must be `{statusCode, headers, multiValueHeaders,
 * body, isBase64Encoded}`; API Gateway makes no assumptions and fails anything else (500).
 * `headers` and `multiValueHeaders` are merged; for a name in both, multiValueHeaders wins.
 */
export function toHttpResponse(result) {
  if (!isObject(result) || result.statusCode === undefined || result.statusCode === null) {
    throw new MalformedResult(
      'Malformed Lambda proxy response: payload format 1.0 needs an object with statusCode ' +
        `(got ${result === null ? 'null' : Array.isArray(result) ? 'an array' : typeof result === 'object' ? 'an object without statusCode' : typeof result})`,
    );
  }
  const headers = {};
  for (const [k, v] of Object.entries(isObject(result.headers) ? result.headers : {})) {
    headers[k.toLowerCase()] = String(v);
  }
  for (const [k, vs] of Object.entries(isObject(result.multiValueHeaders) ? result.multiValueHeaders : {})) {
    headers[k.toLowerCase()] = (Array.isArray(vs) ? vs : [vs]).map(String);
  }
  headers['content-type'] ??= DEFAULT_TYPE;
  return { status: Number(result.statusCode), headers, body: resultBody(result) };
}
