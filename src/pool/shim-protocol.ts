/** The request and response shapes the gateway and a shim exchange (docs/DESIGN.md §5). */
export interface ShimRequest {
  method: string;
  /** Path and query as the function sees them (the `/fn/<name>` prefix removed). */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
}

export interface ShimResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export interface InitPayload {
  handler: string;
  /** The user's entry file the handler was built from, for error messages. */
  source: string;
  /**
   * Applied over the process's env before the handler loads: Lambda's variables and the
   * function's own (`lambdaEnvironment`). The shim first drops its own `KILN_*` variables.
   */
  env: Record<string, string>;
  codeDir: string;
  function: { name: string; version: number; memoryMb: number };
  /** The API Gateway payload format of HTTP requests (the spec's `eventFormat`). */
  eventFormat: '1.0' | '2.0';
  /** Requests the instance runs at once (the spec's `concurrency`). */
  concurrency: number;
  /**
   * No request waits on this start (a deploy's or `minInstances`'): the shim may spend a few
   * ms making itself small before it answers (the node shim compacts its heap), since the
   * instance is idle, then frozen, from its answer on.
   */
  prewarmed: boolean;
}
