// Stem cells warm node's lazy parts before they count as ready (docs/DESIGN.md §4): undici's
// Request/Response load on first use (~25 ms), the ESM loader on its first import, the
// HTTP layer and both handler paths on their first requests. Measured here: a stem cell
// then specializes and answers in ~5 ms instead of ~37 ms.
import { rmSync } from 'node:fs';
import net from 'node:net';
import { fetchInvoker } from './fetch-style.mjs';
import { createServer } from './http-lite.mjs';
import { lambdaInvoker } from './lambda-style.mjs';

const ROUNDS = 3;

export async function warmUp() {
  await import('./warm-module.mjs');
  const fetchStyle = fetchInvoker({ fetch: async (req) => Response.json({ echo: await req.text() }) });
  const lambdaStyle = lambdaInvoker(
    async (event) => ({ statusCode: 200, body: event.body ?? '' }),
    () => ({ name: 'warmup', version: 0 }),
  );
  const socketPath = `/tmp/kiln-warmup-${process.pid}.sock`;
  const server = createServer((req, res) =>
    (req.url.startsWith('/lambda') ? lambdaStyle : fetchStyle)(req, res),
  );
  await new Promise((resolve) => server.listen(socketPath, resolve));
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const path of ['/fetch', '/lambda']) await request(socketPath, path);
    }
  } finally {
    server.close();
    rmSync(socketPath, { force: true });
  }
}

/** One request on its own connection; resolves when the server closes it after answering. */
function request(socketPath, path) {
  return new Promise((resolve, reject) => {
    const body = '{"warm":true}';
    const sock = net.connect(socketPath, () => {
      sock.end(
        `POST ${path} HTTP/1.1\r\nhost: warmup\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    });
    sock.on('data', () => {});
    sock.on('close', resolve);
    sock.on('error', reject);
  });
}
