import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** What the gateway answers to bytes node's HTTP parser refused before any route saw them. */
export interface ClientErrorAnswer {
  status: number;
  code: string;
  message: string;
}

/**
 * The answer to a parser error, by its code (node's `clientError` event: llhttp's `HPE_*`
 * codes and the server's own timeouts). The statuses are node's own defaults
 * (lib/_http_server.js `socketOnError`); what Kiln adds is the `{error: {code, message}}`
 * body every other 4xx has (issue 8: every bad input a 4xx with a code). Pure.
 */
export function clientErrorAnswer(parserCode: string | undefined): ClientErrorAnswer {
  switch (parserCode) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'headers_too_large',
        message: 'the request line and headers must fit in 16 KiB together',
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'chunk_extensions_too_large', message: 'chunk extensions are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'request_timeout',
        message: 'the request did not arrive in time (headers within 20 s, all of it within 120 s)',
      };
    default:
      return {
        status: 400,
        code: 'malformed_request',
        message: `not a valid HTTP/1.1 request${parserCode ? ` (${parserCode})` : ''}`,
      };
  }
}

/** The whole response, connection closed after it. */
export function clientErrorResponse(answer: ClientErrorAnswer): string {
  const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
  return (
    `HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status] ?? 'Bad Request'}\r\n` +
    'content-type: application/json\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    `connection: close\r\n\r\n${body}`
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};

/** The response node has attached to a connection (node's own default handler looks at it too). */
type AttachedSocket = Duplex & { _httpMessage?: { headersSent?: boolean } | null };

/**
 * Answer what node's parser refuses with a coded JSON 4xx, as node's default does but with
 * a body (node docs, http `'clientError'`): a connection that is gone, or whose current
 * response has already sent its head, is only closed.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: AttachedSocket) => {
    if (err.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(clientErrorAnswer(err.code)));
  });
}
