import { describe, expect, it } from 'vitest';
import { clientErrorAnswer, clientErrorResponse } from './client-errors.js';

describe('clientErrorAnswer', () => {
  it("keeps node's statuses and adds a code", () => {
    expect(clientErrorAnswer('HPE_HEADER_OVERFLOW')).toMatchObject({
      status: 431,
      code: 'headers_too_large',
    });
    expect(clientErrorAnswer('ERR_HTTP_REQUEST_TIMEOUT')).toMatchObject({
      status: 408,
      code: 'request_timeout',
    });
    expect(clientErrorAnswer('HPE_INVALID_METHOD')).toMatchObject({ status: 400, code: 'malformed_request' });
    expect(clientErrorAnswer(undefined).message).toBe('not a valid HTTP/1.1 request');
  });
});

describe('clientErrorResponse', () => {
  it('is a whole HTTP/1.1 response whose length matches its JSON body', () => {
    const raw = clientErrorResponse(clientErrorAnswer('HPE_HEADER_OVERFLOW'));
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(head).toContain(`content-length: ${Buffer.byteLength(body!)}`);
    expect(head).toContain('connection: close');
    expect(JSON.parse(body!)).toEqual({
      error: {
        code: 'headers_too_large',
        message: 'the request line and headers must fit in 16 KiB together',
      },
    });
  });
});
