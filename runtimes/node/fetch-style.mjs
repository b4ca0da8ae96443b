// Web-standard handlers: `export default { fetch(request, env, ctx) }` (a Hono app works as is).
import { readBody } from './respond.mjs';

export function fetchInvoker(app) {
  return async (req, res) => {
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const url = `http://${req.headers.host ?? 'localhost'}${req.url}`;
    const request = new Request(url, { method: req.method, headers, body: body?.length ? body : undefined });
    const waits = [];
    const ctx = { waitUntil: (p) => waits.push(p), passThroughOnException() {} };
    const response = await app.fetch(request, process.env, ctx);
    if (!(response instanceof Response)) {
      throw new TypeError(
        `fetch() must return a Response, got ${response === null ? 'null' : typeof response}`,
      );
    }
    const out = {};
    response.headers.forEach((value, key) => {
      if (key !== 'set-cookie') out[key] = value;
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length) out['set-cookie'] = cookies;
    res.writeHead(response.status, out);
    res.end(Buffer.from(await response.arrayBuffer()));
    await Promise.allSettled(waits);
  };
}
