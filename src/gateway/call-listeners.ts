import { chmod, chown } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { KilnError } from '../errors.js';
import { CallDepths } from '../pool/call-depths.js';
import type { Caller, CallListener, CallListeners as CallListenersPort } from '../pool/call-listeners.js';
import { answerClientErrors } from './client-errors.js';
import { connectionLimits, limitConnections } from './connection-limits.js';
import { sendError } from './invoke-handler.js';

/** What serves a call once it came in on a caller's socket (`createCallHandler`). */
export type CallHandler = (req: IncomingMessage, res: ServerResponse, caller: Caller) => void;

/**
 * Open connections one instance may hold on its call socket: a function at `concurrency` 1
 * needs one at a time (an HTTP client keeps it alive); 256 lets a busy instance fan out while
 * a thousand instances cannot take every descriptor of the gateway (the shim's 4096 would).
 */
const MAX_CONNECTIONS_PER_CALLER = 256;

/**
 * The gateway's call sockets: one node:http server per instance of a function with `calls`,
 * on a unix socket in that instance's own host dir (mounted read-only at `/run/kiln` in the
 * container), chowned to the instance's uid and mode 0600, so only that instance can connect.
 * The server knows whose socket it is, so every request on it is that instance's call.
 *
 * Made by `Kiln` before any gateway listens (the pool may start instances at once); the
 * gateway hands over the handler when it starts (`serve`), and a call before that, or after
 * it closed, is refused with 503 `gateway_not_serving`.
 */
export class CallListeners implements CallListenersPort {
  /** How deep the calls each instance serves run (sync calls and async attempts alike). */
  readonly depths = new CallDepths();
  private handler: CallHandler | undefined;
  private listening = 0;

  /** Call sockets listening now: one per live instance of a function with `calls`. */
  get open(): number {
    return this.listening;
  }

  serve(handler: CallHandler | undefined): void {
    this.handler = handler;
  }

  async listen(socketPath: string, caller: Caller, uid: number): Promise<CallListener> {
    const server = createServer((req, res) => {
      const handler = this.handler;
      if (handler) handler(req, res, caller);
      else sendError(res, new KilnError('gateway_not_serving', 'the gateway is not serving calls now', 503));
    });
    answerClientErrors(server);
    // The main listener's timeouts; the address cap is the caller's (every peer of a unix socket has none).
    limitConnections(
      server,
      connectionLimits(Number.MAX_SAFE_INTEGER, {
        maxConnections: MAX_CONNECTIONS_PER_CALLER,
        maxConnectionsPerClient: MAX_CONNECTIONS_PER_CALLER,
      }),
    );
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.listening--;
      // libuv unlinks the socket's path on close; the instance's dir may be gone already.
      server.close();
      server.closeAllConnections();
    };
    this.listening++;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => {
        close();
        reject(err);
      };
      server.once('error', failed);
      server.listen({ path: socketPath, backlog: 128 }, () => {
        server.off('error', failed);
        // An accept that fails (EMFILE) is an 'error' event; unheard, it would end the gateway.
        server.on('error', (err) => console.error(`kiln: call socket of ${caller.instance}:`, err.message));
        resolve();
      });
    });
    try {
      // Until then the socket is root's and 0755: connecting needs write access, so not even
      // the instance can reach it early (its host dir is root's, 0700, to everyone else).
      await chmod(socketPath, 0o600);
      await chown(socketPath, uid, uid);
    } catch (err) {
      close();
      throw err;
    }
    return { close };
  }
}
