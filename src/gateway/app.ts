import { Hono, type MiddlewareHandler } from 'hono';
import { BearerCheck, unauthorized } from '../auth/bearer.js';
import { KilnError } from '../errors.js';
import type { Kiln } from '../kiln.js';
import { allowedMethods } from './allowed-methods.js';
import type { ConnectionLimits } from './connection-limits.js';
import { errorResponse } from './errors.js';
import * as asyncRoutes from './routes/async.js';
import * as functions from './routes/functions.js';
import * as images from './routes/images.js';
import * as instances from './routes/instances.js';
import * as lambdaInvoke from './routes/lambda-invoke.js';
import * as logs from './routes/logs.js';
import * as metrics from './routes/metrics.js';
import type { RouteContext } from './routes/route-context.js';
import * as secrets from './routes/secrets.js';
import * as stacks from './routes/stacks.js';
import * as system from './routes/system.js';
import * as versions from './routes/versions.js';
import * as volumes from './routes/volumes.js';

export interface GatewayOptions {
  /**
   * When set, control-plane routes need `Authorization: Bearer <token>`, and so do invokes of
   * functions whose spec says `auth: "token"`; other invokes stay public. `kiln serve` always
   * sets one unless `--insecure-no-auth` (src/auth/bind-policy.ts).
   */
  token?: string;
  maxDeployBytes?: number;
  maxInvokeBytes?: number;
  /** Connection caps and timeouts (`connection-limits.ts`); defaults suit one machine. */
  connections?: Partial<ConnectionLimits>;
}

function requireToken(token: string | undefined): MiddlewareHandler {
  const check = token === undefined ? undefined : new BearerCheck(token);
  return async (c, next) => {
    if (check && !check.accepts(c.req.header('authorization'))) throw unauthorized('this route');
    await next();
  };
}

/** Route modules, one per area of the API (`routes/`): a new area is a file plus a line here. */
const ROUTES: { register(context: RouteContext): void }[] = [
  functions,
  versions,
  secrets,
  volumes,
  system,
  images,
  logs,
  instances,
  asyncRoutes,
  metrics,
  lambdaInvoke,
  stacks,
];

/**
 * The control-plane API on Hono. Routes are thin: they read the request and call into
 * Kiln's modules. Invoke (`/fn/*`) is served by `invoke-handler.ts` (see `server.ts`).
 */
export function createApp(kiln: Kiln, options: GatewayOptions = {}): Hono {
  const app = new Hono();
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => {
    const allow = allowedMethods(app.routes, c.req.path);
    if (allow.length)
      return errorResponse(
        c,
        new KilnError(
          'method_not_allowed',
          `${c.req.path} takes ${allow.join(', ')}, not ${c.req.method}`,
          405,
          {
            allow: allow.join(', '),
          },
        ),
      );
    return errorResponse(c, new KilnError('not_found', `no route for ${c.req.method} ${c.req.path}`, 404));
  });
  app.get('/healthz', (c) => c.json({ ok: true }));
  const context: RouteContext = {
    app,
    kiln,
    control: requireToken(options.token),
    maxDeployBytes: options.maxDeployBytes ?? 128 * 1024 * 1024,
    maxInvokeBytes: options.maxInvokeBytes ?? 6 * 1024 * 1024,
    invokeCheck: options.token === undefined ? undefined : new BearerCheck(options.token),
    token: options.token,
  };
  for (const routes of ROUTES) routes.register(context);
  return app;
}
