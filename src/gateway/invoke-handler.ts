import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BearerCheck } from '../auth/bearer.js';
import { checkInvokeAuth } from '../auth/invoke-auth.js';
import { errorAnswer, KilnError } from '../errors.js';
import type { Kiln } from '../kiln.js';

export const INVOKE_PREFIX = '/fn/';

/**
 * `ANY /fn/:name/*`, on plain node:http rather than through Hono: the invoke path is a
 * proxy, and building a web Request, Headers and Response for every call cost more than
 * the rest of the path (bench/: 3.6k → 6.4k req/s at 64 connections when it moved here).
 * The control plane stays on Hono, where that cost does not matter.
 */
export function createInvokeHandler(kiln: Kiln, maxBodyBytes: number, token?: string) {
  const check = token === undefined ? undefined : new BearerCheck(token);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = req.url ?? '/';
      const nameEnd = url.slice(INVOKE_PREFIX.length).search(/[/?]/);
      const name =
        nameEnd < 0
          ? url.slice(INVOKE_PREFIX.length)
          : url.slice(INVOKE_PREFIX.length, INVOKE_PREFIX.length + nameEnd);
      let rest = nameEnd < 0 ? '/' : url.slice(INVOKE_PREFIX.length + nameEnd);
      if (!rest.startsWith('/')) rest = `/${rest}`;
      const functionName = decodeName(name);
      checkInvokeAuth(kiln.functions, functionName, req.headers.authorization, check);
      const body = await readBody(req, maxBodyBytes);
      const requestId = randomUUID();
      const headers: Record<string, string | string[]> = {};
      for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers[key] = value;
      const remote = req.socket.remoteAddress ?? '127.0.0.1';
      const forwarded = req.headers['x-forwarded-for'];
      headers['x-forwarded-for'] = forwarded ? `${forwarded}, ${remote}` : remote;
      headers['x-kiln-request-id'] = requestId;
      const method = req.method ?? 'GET';
      const result = await kiln.pool.invoke(functionName, {
        method,
        path: rest,
        headers,
        body: body.length || (method !== 'GET' && method !== 'HEAD') ? body : undefined,
      });
      const out: Record<string, string | string[]> = { ...result.response.headers };
      out['x-kiln-start'] = result.start;
      out['x-kiln-instance'] = result.instanceId;
      out['x-kiln-version'] = String(result.version);
      out['x-kiln-request-id'] = requestId;
      out['server-timing'] = Object.entries(result.timings)
        .map(([phase, ms]) => `${phase};dur=${ms.toFixed(2)}`)
        .join(', ');
      const status = result.response.status;
      const empty = method === 'HEAD' || status === 204 || status === 304;
      if (!empty) out['content-length'] = String(result.response.body.length);
      res.writeHead(status, out);
      res.end(empty ? undefined : result.response.body);
    } catch (err) {
      sendError(res, err);
    }
  };
}

/** `%xx` escapes in the name are decoded; a malformed one is the client's error, not a 500. */
function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new KilnError('invalid_path', `"${raw.slice(0, 100)}" is not a valid %-encoded function name`, 400);
  }
}

/**
 * The whole body, or a 413 once it passes `limit`. An oversized body is still read to its
 * end (and dropped): answering while the client is still sending makes most clients see
 * a reset instead of the 413.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > limit) {
        reject(
          new KilnError(
            'request_too_large',
            `the request body is larger than ${Math.round(limit / 1048576)} MiB`,
            413,
          ),
        );
      } else {
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      }
    });
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const answer = errorAnswer(err);
  const body = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...answer.headers,
  });
  res.end(body);
}
