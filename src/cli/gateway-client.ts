import { readTokenFileIfReadable } from '../auth/token-file.js';
import { DataDir } from '../data-dir.js';

/**
 * The token the CLI sends: `KILN_TOKEN`, else the token file of the data dir a local
 * `kiln serve` would use (`KILN_DATA`, default /var/lib/kiln), as `docker` finds dockerd's
 * socket without being told. Undefined when neither is there or readable.
 */
export function cliToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.KILN_TOKEN) return env.KILN_TOKEN;
  return readTokenFileIfReadable(DataDir.fromEnv(env).controlToken);
}

/** The CLI's view of the gateway: plain HTTP, like `docker` talking to dockerd. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class GatewayClient {
  constructor(
    readonly baseUrl = process.env.KILN_URL || `http://127.0.0.1:${process.env.KILN_PORT || 8080}`,
    private readonly token = cliToken(),
  ) {}

  async request(
    method: string,
    path: string,
    init: { body?: Uint8Array | string; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers,
        body: init.body as BodyInit | undefined,
      });
    } catch (err) {
      throw new GatewayError(
        0,
        'gateway_unreachable',
        `cannot reach the Kiln gateway at ${this.baseUrl} (is \`kiln serve\` running? set KILN_URL): ${(err as Error).cause ?? (err as Error).message}`,
      );
    }
    return res;
  }

  /** Throw the gateway's error answer (`{error: {code, message}}`) as a GatewayError. */
  async fail(res: Response): Promise<never> {
    const text = await res.text();
    const error = (parseJson(text) as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new GatewayError(res.status, error?.code ?? `http_${res.status}`, error?.message ?? text);
  }

  async json<T>(
    method: string,
    path: string,
    init: { body?: Uint8Array | string; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const res = await this.request(method, path, init);
    if (!res.ok) return this.fail(res);
    return parseJson(await res.text()) as T;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
