import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * AWS Signature Version 4 (AWS, "Create a signed AWS API request"; "Elements of an AWS API
 * request signature"), checked rather than made: the AWS CLI and SDKs sign every request
 * with an access key and a secret, and cannot send a Bearer token. Kiln takes the control
 * token as the secret (any access key id), so `AWS_SECRET_ACCESS_KEY=$KILN_TOKEN aws lambda
 * invoke --endpoint-url ...` is authenticated like `Authorization: Bearer $KILN_TOKEN`.
 */
export interface SignedRequest {
  method: string;
  /** The request target as sent: path and query, still %-encoded. */
  target: string;
  /** Header names lowercase; repeated headers joined with ",". */
  headers: Record<string, string | undefined>;
  body: Uint8Array;
}

/** How far a signature's X-Amz-Date may be from now: AWS refuses requests older than 15 minutes. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const AUTH =
  /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;

export function isSigV4(authorization: string | undefined): boolean {
  return authorization?.startsWith('AWS4-HMAC-SHA256 ') ?? false;
}

/** Whether `req` carries a valid signature made with `secret`, dated within the allowed skew of `now`. */
export function verifySigV4(req: SignedRequest, secret: string, now = Date.now()): boolean {
  const match = AUTH.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const [, credential = '', signedList = '', signature = ''] = match;
  // Credential = <access key id>/<yyyymmdd>/<region>/<service>/aws4_request
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request') return false;
  const [, day = '', region = '', service = ''] = scope;
  const amzDate = req.headers['x-amz-date'] ?? '';
  const dated = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dated || amzDate.slice(0, 8) !== day) return false;
  const at = Date.UTC(+dated[1]!, +dated[2]! - 1, +dated[3]!, +dated[4]!, +dated[5]!, +dated[6]!);
  if (Math.abs(now - at) > MAX_CLOCK_SKEW_MS) return false;
  const signed = signedList.split(';');
  // The host and the date must be signed (AWS requires host; the date ties the signature to now).
  if (!signed.includes('host') || !signed.includes('x-amz-date')) return false;
  if (signed.some((h) => req.headers[h] === undefined)) return false;
  const canonical = canonicalRequest(req, signed);
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope.slice(1).join('/'), sha256Hex(canonical)].join(
    '\n',
  );
  let key = hmac(`AWS4${secret}`, day);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** The canonical request of a service other than S3: every path segment encoded once more than on the wire. */
export function canonicalRequest(req: SignedRequest, signed: readonly string[]): string {
  const q = req.target.indexOf('?');
  const path = q < 0 ? req.target : req.target.slice(0, q);
  const query = q < 0 ? '' : req.target.slice(q + 1);
  const canonicalPath = path
    .split('/')
    .map((segment) => uriEncode(segment))
    .join('/');
  const params = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const key = eq < 0 ? p : p.slice(0, eq);
      const value = eq < 0 ? '' : p.slice(eq + 1);
      return [uriEncode(decode(key)), uriEncode(decode(value))] as const;
    })
    .sort(([ak, av], [bk, bv]) => (ak === bk ? compare(av, bv) : compare(ak, bk)))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const sortedSigned = [...signed].sort();
  const headers = sortedSigned
    .map((h) => `${h}:${(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const payload = req.headers['x-amz-content-sha256'] ?? sha256Hex(req.body);
  return [req.method, canonicalPath || '/', params, headers, sortedSigned.join(';'), payload].join('\n');
}

/** RFC 3986 encoding of everything but unreserved characters, as SigV4 specifies. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
