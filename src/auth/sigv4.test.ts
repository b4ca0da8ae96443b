import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalRequest, MAX_CLOCK_SKEW_MS, type SignedRequest, verifySigV4 } from './sigv4.js';

// AWS's Signature Version 4 test suite, "get-vanilla": its key, date and expected signature.
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const AT = Date.UTC(2015, 7, 30, 12, 36, 0);
const VANILLA: SignedRequest = {
  method: 'GET',
  target: '/',
  headers: {
    host: 'example.amazonaws.com',
    'x-amz-date': '20150830T123600Z',
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  },
  body: new Uint8Array(),
};

/** Sign the way an AWS client does, from the canonical request up: what a test of the checker needs. */
function sign(
  req: SignedRequest,
  secret: string,
  signed: string[],
  scope = '20150830/us-east-1/lambda/aws4_request',
) {
  const canonical = canonicalRequest(req, signed);
  const toSign = [
    'AWS4-HMAC-SHA256',
    req.headers['x-amz-date'],
    scope,
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n');
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of scope.split('/')) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    ...req,
    headers: {
      ...req.headers,
      authorization: `AWS4-HMAC-SHA256 Credential=kiln/${scope}, SignedHeaders=${[...signed].sort().join(';')}, Signature=${signature}`,
    },
  };
}

describe('verifySigV4', () => {
  it("accepts AWS's get-vanilla example with its secret", () => {
    expect(verifySigV4(VANILLA, SECRET, AT)).toBe(true);
  });

  it('refuses another secret, a changed request, or a date too far from now', () => {
    expect(verifySigV4(VANILLA, `${SECRET}x`, AT)).toBe(false);
    expect(verifySigV4({ ...VANILLA, method: 'POST' }, SECRET, AT)).toBe(false);
    expect(verifySigV4({ ...VANILLA, target: '/?a=1' }, SECRET, AT)).toBe(false);
    expect(
      verifySigV4({ ...VANILLA, headers: { ...VANILLA.headers, host: 'evil.example' } }, SECRET, AT),
    ).toBe(false);
    expect(verifySigV4(VANILLA, SECRET, AT + MAX_CLOCK_SKEW_MS + 1000)).toBe(false);
    expect(verifySigV4(VANILLA, SECRET, AT - MAX_CLOCK_SKEW_MS - 1000)).toBe(false);
  });

  it('covers the body, an encoded path and the query', () => {
    const req: SignedRequest = {
      method: 'POST',
      target:
        '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aorders/invocations?Qualifier=%24LATEST',
      headers: {
        host: '127.0.0.1:8080',
        'x-amz-date': '20150830T123600Z',
        'content-type': 'application/json',
      },
      body: Buffer.from('{"a":1}'),
    };
    const signed = sign(req, 'tok', ['host', 'x-amz-date', 'content-type']);
    expect(canonicalRequest(req, ['host'])).toContain('/functions/arn%253Aaws%253Alambda');
    expect(verifySigV4(signed, 'tok', AT)).toBe(true);
    expect(verifySigV4({ ...signed, body: Buffer.from('{"a":2}') }, 'tok', AT)).toBe(false);
  });

  it('refuses a signature that does not sign the host and the date', () => {
    const req: SignedRequest = { ...VANILLA, headers: { host: 'h', 'x-amz-date': '20150830T123600Z' } };
    expect(verifySigV4(sign(req, 'tok', ['host']), 'tok', AT)).toBe(false);
    expect(verifySigV4(sign(req, 'tok', ['host', 'x-amz-date']), 'tok', AT)).toBe(true);
  });

  it('refuses malformed headers', () => {
    for (const authorization of [
      '',
      'Bearer x',
      'AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host, Signature=zz',
    ]) {
      expect(verifySigV4({ ...VANILLA, headers: { ...VANILLA.headers, authorization } }, SECRET, AT)).toBe(
        false,
      );
    }
  });
});
