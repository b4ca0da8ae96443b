// Stem cells warm node's lazy parts before they count as ready (docs/DESIGN.md §4): undici's
// Request/Response load on first use (~25 ms), the ESM loader on its first import, and the HTTP
// layer, the protocol and every handler path (fetch buffered and streamed, Lambda with both
// payload formats, raw invokes, response streaming, the log line formatter) on their first
// requests. Measured here: a stem cell then specializes and answers in ~5 ms instead of ~37 ms.
import { rmSync } from 'node:fs';
import net from 'node:net';
import { createServer } from './http-lite.mjs';
import { jsonLine, quiesce, textLine } from './lambda-console.mjs';
import { formattedError, invokeErrorBody } from './lambda-errors.mjs';
import { Shim } from './shim.mjs';

const ROUNDS = 3;
const BODY = '{"warm":true}';

async function shims() {
  const fetchStyle = new Shim();
  await fetchStyle.use({
    async fetch(req) {
      const text = await req.text();
      if (new URL(req.url).pathname !== '/stream') return Response.json({ echo: text });
      // A body that is still being produced when the event loop comes round: streamed.
      const body = new ReadableStream({
        async pull(controller) {
          await new Promise((resolve) => setImmediate(resolve));
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/plain' } });
    },
  });
  const lambda = async (event, context) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ body: event.body ?? null, id: context.awsRequestId }),
  });
  const lambdaV2 = new Shim();
  await lambdaV2.use(lambda);
  const lambdaV1 = new Shim();
  await lambdaV1.use(lambda, '1.0');
  const streaming = new Shim();
  await streaming.use(
    globalThis.awslambda.streamifyResponse(async (event, responseStream) => {
      const stream = globalThis.awslambda.HttpResponseStream.from(responseStream, {
        statusCode: 200,
        headers: { 'content-type': 'text/plain' },
      });
      stream.write(event.body ?? '');
      await new Promise((resolve) => setImmediate(resolve));
      stream.end('.');
    }),
  );
  return {
    '/fetch': fetchStyle,
    '/stream': fetchStyle,
    '/v2': lambdaV2,
    '/v1': lambdaV1,
    '/streamify': streaming,
  };
}

const REQUESTS = [
  ['POST', '/fetch', {}],
  ['POST', '/stream', {}],
  ['POST', '/v2', {}],
  ['POST', '/v1', {}],
  ['POST', '/v2', { 'x-kiln-invoke': 'raw' }],
  ['POST', '/streamify', {}],
  ['HEAD', '/fetch', {}],
];

export async function warmUp() {
  await import('./warm-module.mjs');
  const byPath = await shims();
  // The log and error formatters, without writing a line.
  const error = new Error('warm');
  textLine('INFO', 'warm %s', [formattedError(error)]);
  jsonLine('ERROR', error, []);
  invokeErrorBody(error);
  const socketPath = `/tmp/kiln-warmup-${process.pid}.sock`;
  const server = createServer((req, res) => byPath[req.url].serve(req, res));
  await new Promise((resolve) => server.listen(socketPath, resolve));
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const [method, path, headers] of REQUESTS) await request(socketPath, method, path, headers);
    }
  } finally {
    server.close();
    rmSync(socketPath, { force: true });
    quiesce();
  }
}

/** One request on its own connection, its body chunked; resolves once the answer is read. */
function request(socketPath, method, path, headers) {
  return new Promise((resolve, reject) => {
    let head = `${method} ${path} HTTP/1.1\r\nhost: warmup\r\ncontent-type: application/json\r\nconnection: close\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const body = method === 'HEAD' ? '' : `${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\n\r\n`;
    const sock = net.connect(socketPath, () => {
      sock.write(`${head}${body ? 'transfer-encoding: chunked\r\n' : ''}\r\n${body}`);
    });
    sock.on('data', () => {});
    sock.on('close', resolve);
    sock.on('error', reject);
  });
}
