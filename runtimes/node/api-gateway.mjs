// What API Gateway's two Lambda payload formats share: how a request's parts are read and how
// its body is encoded. Source: AWS, "Create AWS Lambda proxy integrations for HTTP APIs in API
// Gateway" (payload format 1.0 and 2.0) and "Lambda proxy integrations in API Gateway" (REST).

/** The account id Kiln reports wherever AWS reports one (events, ARNs): 12 digits, like AWS's. */
export const ACCOUNT_ID = '000000000000';
export const API_ID = 'kiln';
export const STAGE = '$default';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n) => String(n).padStart(2, '0');

/** `12/Mar/2020:19:03:58 +0000`: requestContext.time (2.0) and requestTime (1.0). */
export function requestTime(date) {
  return (
    `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/** The path and the raw query of a request target, as sent. */
export function splitTarget(url) {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** The query's parameters, decoded, in order: [name, value] pairs. */
export function queryPairs(query) {
  return query ? [...new URLSearchParams(query)] : [];
}

// Bodies of these types are passed as text; any other is base64 (isBase64Encoded: true).
const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]*\+(json|xml)))/i;

export function encodeBody(body, contentType) {
  if (!body.length) return { body: undefined, isBase64Encoded: false };
  const text = !contentType || TEXT_TYPE.test(contentType);
  return { body: body.toString(text ? 'utf8' : 'base64'), isBase64Encoded: !text };
}

/**
 * The client's address. Behind Kiln's gateway (unix socket) it is the last X-Forwarded-For
 * entry, the one the gateway appended from its own socket: earlier entries are the client's
 * word. Served over TCP, it is the connection's peer.
 */
export function sourceIp(req) {
  if (req.remoteAddress) return req.remoteAddress.replace(/^::ffff:/, '');
  const forwarded = req.headers['x-forwarded-for'];
  if (!forwarded) return '127.0.0.1';
  return forwarded.slice(forwarded.lastIndexOf(',') + 1).trim();
}

/** The Host header without its port: API Gateway's domainName. */
export function domainName(req) {
  const host = req.headers.host ?? 'localhost';
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
}

/** The response body a Lambda result names: text, or bytes when isBase64Encoded. */
export function resultBody(result) {
  let body = result.body ?? '';
  if (typeof body !== 'string') body = JSON.stringify(body);
  return Buffer.from(body, result.isBase64Encoded ? 'base64' : 'utf8');
}

export const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
