// Time-to-first-response helpers: one HTTP GET over a unix socket, retried until the
// server accepts (the socket file appears, then listen() runs).
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export function getOnce(socketPath, path = '/') {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: 'GET', agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET / as soon as the server answers; rejects when `gone` resolves first or after `timeoutMs`. */
export async function firstResponse(socketPath, timeoutMs, gone) {
  let exited = false;
  gone?.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error('the process exited before answering');
    try {
      return await getOnce(socketPath);
    } catch {
      await sleep(0.5);
    }
  }
  throw new Error(`no answer on ${socketPath} within ${timeoutMs} ms`);
}
