import type { Hono, MiddlewareHandler } from 'hono';
import type { BearerCheck } from '../../auth/bearer.js';
import type { Kiln } from '../../kiln.js';

/** What a module of control-plane routes gets: the app to add routes to, Kiln, and the auth check. */
export interface RouteContext {
  app: Hono;
  kiln: Kiln;
  /** Middleware that demands the control-plane token. */
  control: MiddlewareHandler;
  maxDeployBytes: number;
  /** The largest request body an invoke (sync or async) may have. */
  maxInvokeBytes: number;
  /** The token check for invokes of `auth: "token"` functions (undefined: no token, they fail closed). */
  invokeCheck: BearerCheck | undefined;
  /** The control token, for routes that check it their own way (Lambda's Invoke API: SigV4); undefined: none. */
  token?: string;
}
