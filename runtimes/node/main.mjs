// Kiln's Node shim: the process inside every node container (SHIM-PROTOCOL.md). It listens on
// the socket the gateway passed as fd 0 (KILN_LISTEN_FD), else on the unix path KILN_SOCKET,
// else on TCP :$PORT (8080) when the image runs outside Kiln (docker/podman/Kubernetes),
// where it loads KILN_HANDLER at boot.
import { unlinkSync } from 'node:fs';
import { installAwsLambdaGlobal } from './awslambda-global.mjs';
import { compactingWhenIdle, trimMallocWith } from './heap-compaction.mjs';
import { createServer, DEFAULT_MAX_BODY_BYTES } from './http-lite.mjs';
import { logError, patchConsole } from './lambda-console.mjs';
import { UnhandledPromiseRejection } from './lambda-errors.mjs';
import { MUX_TRANSPORT, PREFACE } from './mux-frames.mjs';
import { MuxConnection } from './mux-server.mjs';
import { Shim } from './shim.mjs';

const env = process.env;
// The shim's own library (runtimes/node/native/dense-memory.c), loaded at exec: processes the
// function starts do not inherit it, and the function sees Lambda's environment without it.
const PRELOADED = '/opt/kiln/shim/dense-memory.so';
if (env.LD_PRELOAD === PRELOADED) {
  delete env.LD_PRELOAD;
  trimMallocWith(PRELOADED);
}
patchConsole();
installAwsLambdaGlobal();

// Lambda logs these in its own shape and exits; the shim logs them the same way, and a stray
// rejection does not take down an instance other requests are running on.
process.on('unhandledRejection', (reason, promise) => {
  logError('Unhandled Promise Rejection', new UnhandledPromiseRejection(reason, promise));
});
process.on('uncaughtException', (err) => {
  logError('Uncaught Exception', err);
  process.exit(129);
});
// Kept-alive connections never close on their own: exit at once rather than wait for them.
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

if (env.KILN_WARMUP === '1') await (await import('./warmup.mjs')).warmUp();

const shim = new Shim();
const maxBodyBytes = Number(env.KILN_MAX_BODY_BYTES) || DEFAULT_MAX_BODY_BYTES;
// The gateway's multiplexed connection (mux-server.mjs), on its socket only: under docker,
// podman or Kubernetes the shim is a plain HTTP server.
const underKiln = Boolean(env.KILN_LISTEN_FD || env.KILN_SOCKET);
if (underKiln) shim.transports = [MUX_TRANSPORT];
// Every request, on either transport, tells the heap compaction when the shim goes idle.
const serve = compactingWhenIdle(shim.serve, () => shim.initialized);
const server = createServer(serve, {
  maxBodyBytes,
  mux: underKiln
    ? {
        preface: PREFACE,
        accept: (socket, first) => new MuxConnection(socket, serve, maxBodyBytes, first),
      }
    : undefined,
});
server.on('error', (err) => {
  process.stderr.write(`kiln shim: cannot listen: ${err.message}\n`);
  process.exit(1);
});

if (env.KILN_LISTEN_FD) {
  // Socket activation: the gateway bound and listens on the socket; the container needs no
  // writable host dir for it.
  server.listen({ fd: Number(env.KILN_LISTEN_FD) });
} else if (env.KILN_SOCKET) {
  try {
    unlinkSync(env.KILN_SOCKET);
  } catch {}
  server.listen(env.KILN_SOCKET);
} else {
  if (env.KILN_HANDLER) {
    try {
      await shim.init({
        handler: env.KILN_HANDLER,
        codeDir: env.KILN_CODE_DIR ?? '/fn',
        eventFormat: env.KILN_EVENT_FORMAT,
      });
    } catch (err) {
      process.stderr.write(`kiln shim: ${err.code ?? 'handler_load_failed'}: ${err.message}\n`);
      process.exit(1);
    }
  }
  server.listen(Number(env.PORT ?? 8080), '0.0.0.0');
}
