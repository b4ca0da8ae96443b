import { describe, expect, it } from 'vitest';
import { requestHeadersForShim, responseHeadersForClient } from './proxy-headers.js';

describe('requestHeadersForShim', () => {
  it('drops hop-by-hop headers, those Connection names, framing, Expect and every x-kiln-*', () => {
    const raw = [
      'Host',
      'example.com',
      'Connection',
      'keep-alive, Upgrade, X-Secret-Hop',
      'Keep-Alive',
      'timeout=5',
      'Upgrade',
      'websocket',
      'X-Secret-Hop',
      '1',
      'TE',
      'trailers',
      'Trailer',
      'x-t',
      'Transfer-Encoding',
      'chunked',
      'Proxy-Authorization',
      'Basic x',
      'Proxy-Connection',
      'keep-alive',
      'Content-Length',
      '3',
      'Expect',
      '100-continue',
      'X-Kiln-Invoke',
      'raw',
      'x-kiln-deadline',
      '1',
      'X-KILN-REQUEST-ID',
      'forged',
      'Content-Type',
      'text/plain',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
    ];
    expect(requestHeadersForShim(raw)).toEqual([
      'host',
      'example.com',
      'content-type',
      'text/plain',
      'set-cookie',
      'a=1',
      'set-cookie',
      'b=2',
    ]);
  });
});

describe('responseHeadersForClient', () => {
  it('keeps the function headers and its error codes, never the gateway’s own', () => {
    const raw = [
      'content-type',
      'text/event-stream',
      'x-kiln-error',
      'handler_error',
      'x-kiln-start',
      'cold',
      'x-kiln-instance',
      'forged',
      'server-timing',
      'fn;dur=0',
      'content-length',
      '9',
      'upgrade',
      'h2c',
      'connection',
      'x-drop',
      'x-drop',
      '1',
    ];
    expect(responseHeadersForClient(raw)).toEqual([
      'content-type',
      'text/event-stream',
      'x-kiln-error',
      'handler_error',
    ]);
  });
});
