import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { KilnError } from '../errors.js';
import type { Kiln } from '../kiln.js';
import { createApp, type GatewayOptions } from './app.js';
import { answerClientErrors } from './client-errors.js';
import { connectionLimits, limitConnections, raiseFileLimit } from './connection-limits.js';
import { type DrainResult, RequestDrain } from './drain.js';
import {
  createCallHandler,
  createInvokeHandler,
  declaredTooLarge,
  INVOKE_PREFIX,
  sendError,
  tooLarge,
} from './invoke-handler.js';

const notAPath = () =>
  new KilnError('invalid_path', 'the request target must be a path starting with "/"', 400);

export interface RunningGateway {
  url: string;
  close(): Promise<void>;
  /** Stop accepting, let requests in flight finish within `graceMs`, then cut the rest (SIGTERM). */
  drain(graceMs: number): Promise<DrainResult>;
}

/** A log follow lasts until its client goes: shutdown does not wait for one. */
const isLogFollow = (req: IncomingMessage) =>
  /^\/functions\/[^/?]+\/logs\?(.*&)?follow=(1|true)(&|$)/.test(req.url ?? '');

/**
 * Serve the gateway on host:port (port 0 picks a free one, for tests): `/fn/*` goes to the
 * invoke handler, everything else to the Hono app.
 */
export function startGateway(
  kiln: Kiln,
  host: string,
  port: number,
  options: GatewayOptions = {},
): Promise<RunningGateway> {
  const control = getRequestListener(createApp(kiln, options).fetch);
  const maxInvokeBytes = options.maxInvokeBytes ?? 6 * 1024 * 1024;
  const invoke = createInvokeHandler(kiln, maxInvokeBytes, options.token);
  // Instances' calls to other functions come in on their own sockets, through the same proxy.
  kiln.calls.serve(createCallHandler(kiln, maxInvokeBytes, control, options.token));
  const route = (req: IncomingMessage, res: ServerResponse) => {
    // Only origin-form targets (`/path?query`): `*` and absolute URLs are for proxies
    // (RFC 9112 §3.2), and the web Request the control plane builds cannot take `*`.
    if (!req.url?.startsWith('/')) sendError(res, notAPath());
    else if (req.url.startsWith(INVOKE_PREFIX)) void invoke(req, res);
    else void control(req, res);
  };
  const server = createServer(route);
  // `Expect: 100-continue` is answered here, never forwarded (issue 9: curl adds it to any
  // POST over 1 KiB): 100 when the body may come, a 413 at once when its declared length is
  // already over the invoke cap, so the client does not send it at all.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith(INVOKE_PREFIX) && declaredTooLarge(req, maxInvokeBytes)) {
      res.shouldKeepAlive = false;
      sendError(res, tooLarge(maxInvokeBytes));
      return;
    }
    res.writeContinue();
    route(req, res);
  });
  answerClientErrors(server);
  limitConnections(server, connectionLimits(raiseFileLimit(console.error), options.connections));
  const requests = new RequestDrain(server, isLogFollow);
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const info = server.address() as AddressInfo;
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${shownHost}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            kiln.calls.serve(undefined);
            server.close(() => done());
            server.closeAllConnections();
          }),
        drain: (graceMs) => requests.drain(graceMs),
      });
    });
  });
}
