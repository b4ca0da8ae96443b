// Kiln's Node shim: the process inside every node container. It speaks HTTP/1.1 on the
// instance's unix socket (KILN_SOCKET), or on TCP :8080 when the image runs outside Kiln
// (docker/podman/Kubernetes), where it loads KILN_HANDLER at boot.
// Protocol (docs/DESIGN.md §5): `POST /init {handler, env, codeDir}` once, then every request is
// the user's, passed to the handler.

import { unlinkSync } from 'node:fs';
import { createServer } from './http-lite.mjs';
import { loadHandler } from './loader.mjs';
import { readBody, shimError } from './respond.mjs';

let invoke;
let functionInfo = {
  name: process.env.KILN_FUNCTION ?? 'function',
  version: process.env.KILN_VERSION ?? '$LATEST',
};

async function init(body) {
  const { handler, source, env = {}, codeDir = '/fn', function: fn } = body;
  Object.assign(process.env, env);
  if (fn) functionInfo = { ...functionInfo, ...fn };
  invoke = await loadHandler(codeDir, handler, () => functionInfo, source);
}

const server = createServer(async (req, res) => {
  if (!invoke) {
    if (req.method !== 'POST' || req.url !== '/init') {
      return shimError(
        res,
        503,
        'not_initialized',
        'the function has not been loaded yet (POST /init first)',
      );
    }
    try {
      await init(JSON.parse((await readBody(req)).toString('utf8') || '{}'));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    } catch (err) {
      shimError(res, 400, err.code ?? 'handler_load_failed', err.message ?? String(err));
    }
    return;
  }
  try {
    await invoke(req, res);
  } catch (err) {
    if (!res.headersSent) shimError(res, 500, 'handler_error', errorText(err));
    else res.destroy(err);
  }
});

function errorText(err) {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

// A handler's stray rejection must not take the instance down: log it, keep serving.
process.on('unhandledRejection', (err) => console.error('kiln: unhandled rejection:', err));

const socketPath = process.env.KILN_SOCKET;
if (process.env.KILN_WARMUP === '1') await (await import('./warmup.mjs')).warmUp();
if (socketPath) {
  try {
    unlinkSync(socketPath);
  } catch {}
  server.listen(socketPath);
} else {
  if (process.env.KILN_HANDLER) {
    await init({ handler: process.env.KILN_HANDLER, codeDir: process.env.KILN_CODE_DIR ?? '/fn' });
  }
  server.listen(Number(process.env.PORT ?? 8080), '0.0.0.0');
}
// Kept-alive connections never close on their own: exit at once rather than wait for them.
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
