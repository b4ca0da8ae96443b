import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export interface DrainResult {
  /** Requests that were still running when the grace period ended (their connections were cut). */
  cut: number;
}

/**
 * Graceful shutdown for a node:http server, as Kubernetes expects of a pod on SIGTERM:
 * stop accepting connections, let the requests in flight finish within a grace period, then
 * cut what is left. Requests that are open-ended by design (`kiln logs -f`) are not waited
 * for. Every response written while draining carries `Connection: close`, so a keep-alive
 * client does not send its next request to a gateway on its way out.
 */
export class RequestDrain {
  private readonly inflight = new Set<ServerResponse>();
  private draining = false;
  private settled: (() => void) | undefined;

  constructor(
    private readonly server: Server,
    openEnded: (req: IncomingMessage) => boolean,
  ) {
    const track = (req: IncomingMessage, res: ServerResponse) => {
      if (this.draining) res.shouldKeepAlive = false;
      if (openEnded(req)) return;
      this.inflight.add(res);
      res.once('close', () => {
        this.inflight.delete(res);
        if (this.draining) {
          // The connection of a finished request is idle now: close it.
          this.server.closeIdleConnections();
          if (this.inflight.size === 0) this.settled?.();
        }
      });
    };
    server.on('request', track);
    // A request with `Expect: 100-continue` comes as this event instead of 'request'.
    server.on('checkContinue', track);
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  /**
   * Stop listening, wait up to `graceMs` for the requests in flight, then close every
   * connection that is left. Resolves once the listening socket is closed and nothing waits.
   */
  async drain(graceMs: number): Promise<DrainResult> {
    this.draining = true;
    for (const res of this.inflight) if (!res.headersSent) res.shouldKeepAlive = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.settled = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const cut = this.inflight.size;
    this.server.closeAllConnections();
    await closed;
    return { cut };
  }
}
