import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { KilnError } from '../errors.js';
import type { FunctionRecord } from '../functions/function-store.js';
import type { Kiln } from '../kiln.js';
import { readDeployRequest } from './deploy-input.js';
import { errorResponse } from './errors.js';

export interface GatewayOptions {
  /** When set, control-plane routes need `Authorization: Bearer <token>`; invoke stays public. */
  token?: string;
  maxDeployBytes?: number;
  maxInvokeBytes?: number;
}

function summary(record: FunctionRecord) {
  const active = record.versions.find((v) => v.version === record.activeVersion);
  return {
    name: record.name,
    runtime: record.runtime,
    version: record.activeVersion,
    handler: active?.spec.handler ?? null,
    memoryMb: active?.spec.memoryMb,
    image: active?.image,
    versions: record.versions.length,
    updatedAt: record.updatedAt,
  };
}

function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token && c.req.header('authorization') !== `Bearer ${token}`) {
      throw new KilnError('unauthorized', 'this route needs Authorization: Bearer $KILN_TOKEN', 401);
    }
    await next();
  };
}

function tooLarge(what: string, limit: number) {
  return () => {
    throw new KilnError(
      `${what}_too_large`,
      `the ${what} is larger than ${Math.round(limit / 1048576)} MiB`,
      413,
    );
  };
}

/**
 * The control-plane API on Hono. Routes are thin: they read the request and call into
 * Kiln's modules. Invoke (`/fn/*`) is served by `invoke-handler.ts` (see `server.ts`).
 */
export function createApp(kiln: Kiln, options: GatewayOptions = {}): Hono {
  const app = new Hono();
  const maxDeploy = options.maxDeployBytes ?? 128 * 1024 * 1024;
  const control = requireToken(options.token);

  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) =>
    errorResponse(c, new KilnError('not_found', `no route for ${c.req.method} ${c.req.path}`, 404)),
  );

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.post(
    '/functions',
    control,
    bodyLimit({ maxSize: maxDeploy, onError: tooLarge('bundle', maxDeploy) }),
    async (c) => {
      const result = await kiln.deployer.deploy(await readDeployRequest(c));
      return c.json(
        {
          function: summary(result.record),
          version: result.version.version,
          layer: result.version.layer,
          layerReused: result.layerReused,
        },
        201,
      );
    },
  );
  app.get('/functions', control, (c) => c.json({ functions: kiln.functions.list().map(summary) }));
  app.get('/functions/:name', control, (c) => c.json(kiln.functions.get(c.req.param('name'))));
  app.get('/functions/:name/versions', control, (c) =>
    c.json({ versions: kiln.functions.get(c.req.param('name')).versions }),
  );
  app.delete('/functions/:name', control, async (c) => {
    await kiln.deployer.remove(c.req.param('name'));
    return c.json({ deleted: c.req.param('name') });
  });
  app.delete('/instances/:id', control, async (c) => {
    await kiln.pool.stop(c.req.param('id'));
    return c.json({ stopped: c.req.param('id') });
  });
  app.get('/instances', control, async (c) =>
    c.json({ instances: await kiln.pool.list(), stemCells: await kiln.pool.listStemCells() }),
  );

  return app;
}
