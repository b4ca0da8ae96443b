// Web-standard handlers: `export default { fetch(request, env, ctx) }` (a Hono app works as is).
// A Response whose body is still being produced is streamed to the client as it comes
// (chunked); one whose body is all there is sent whole, with content-length.
import { logError } from './lambda-console.mjs';
import { installLightResponse, lightParts } from './light-response.mjs';

const TICK = Symbol('tick');
/**
 * Past this many bytes read before the tick, the body is streamed even if it could all be
 * read at once: a stream that produces synchronously on every pull (1 GiB from a `pull()`
 * that enqueues at once) would otherwise be held whole in the function's memory (issue 8:
 * a 1 GiB response got the function killed for memory).
 */
const WHOLE_BODY_MAX = 1024 * 1024;

function toRequest(req) {
  // Pairs, not a Headers: Request copies its init's headers, and copying a Headers walks it
  // in sorted order, a second list built and sorted per request for nothing.
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
  const hasBody = req.body.length > 0 && req.method !== 'GET' && req.method !== 'HEAD';
  const init = { method: req.method, headers, body: hasBody ? req.body : undefined };
  try {
    return new Request(`http://${req.headers.host ?? 'localhost'}${req.url}`, init);
  } catch {
    // A Host header that makes no URL: the path is what the handler needs.
    return new Request(`http://localhost${req.url}`, init);
  }
}

function responseHeaders(response) {
  const out = {};
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') out[key] = value;
  });
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length) out['set-cookie'] = cookies;
  return out;
}

function bytes(chunk) {
  if (!(chunk instanceof Uint8Array))
    throw new TypeError('a Response body stream must yield Uint8Array chunks');
  return chunk;
}

/**
 * Read the body until it ends, until a read is still pending when the event loop comes
 * round (setImmediate), or until more than WHOLE_BODY_MAX bytes are held: a small body
 * built from a string, bytes or an already-filled stream ends first and is sent whole; one
 * that waits on anything, or is large, is streamed from then on.
 */
async function writeResponse(response, res) {
  const headers = responseHeaders(response);
  const stream = response.body;
  if (!stream) {
    res.writeHead(response.status, headers).end();
    return;
  }
  const reader = stream.getReader();
  const tick = new Promise((resolve) => setImmediate(resolve, TICK));
  const chunks = [];
  let held = 0;
  let next = reader.read();
  while (held <= WHOLE_BODY_MAX) {
    const r = await Promise.race([next, tick]);
    if (r === TICK) break;
    if (r.done) {
      res.writeHead(response.status, headers).end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      return;
    }
    chunks.push(bytes(r.value));
    held += r.value.length;
    next = reader.read();
  }
  res.writeHead(response.status, headers);
  if (res.isHead) {
    // A HEAD answer has no body: stop reading, so the stream stops being pulled. (Cancelling
    // it would make a producer that enqueues later throw, which the handler never asked for.)
    next.catch(() => {});
    reader.releaseLock();
    await res.finish();
    return;
  }
  try {
    for (const chunk of chunks) await res.write(chunk);
    for (let r = await next; !r.done; r = await reader.read()) await res.write(bytes(r.value));
    await res.finish();
  } catch (err) {
    reader.cancel(err).catch(() => {});
    throw err;
  }
}

export function fetchInvoker(app) {
  // At the first request, not at /init: reading node's global Response (even its property
  // descriptor) loads undici, which an instance that has answered nothing yet never needed --
  // installed at /init it took an idle hello instance from 8.0 to 11.6 MiB of anonymous memory
  // (node 22, issue 9 density). A handler's module, imported before this runs, saw the real
  // Response either way.
  let installed = false;
  return {
    async http(req, res) {
      if (!installed) {
        installLightResponse();
        installed = true;
      }
      const waits = [];
      const ctx = { waitUntil: (p) => waits.push(p), passThroughOnException() {} };
      const response = await app.fetch(toRequest(req), process.env, ctx);
      const light = lightParts(response);
      if (light) {
        res.writeHead(light.status, light.headers).end(light.body ?? undefined);
      } else if (typeof response?.status !== 'number' || typeof response.headers?.forEach !== 'function') {
        throw new TypeError(
          `fetch() must return a Response, got ${response === null ? 'null' : typeof response}`,
        );
      } else {
        await writeResponse(response, res);
      }
      if (!waits.length) return;
      // Work the handler asked to finish after answering; its failures are logged, not answered.
      for (const outcome of await Promise.allSettled(waits)) {
        if (outcome.status === 'rejected') logError('waitUntil Error', outcome.reason);
      }
    },
  };
}
