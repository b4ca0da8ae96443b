import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Kiln } from '../kiln.js';
import { createApp, type GatewayOptions } from './app.js';

export interface RunningGateway {
  url: string;
  close(): Promise<void>;
}

/** Serve the gateway on host:port (port 0 picks a free one, for tests). */
export function startGateway(
  kiln: Kiln,
  host: string,
  port: number,
  options: GatewayOptions = {},
): Promise<RunningGateway> {
  const app = createApp(kiln, options);
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${shownHost}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
  });
}
