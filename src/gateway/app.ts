import { Hono, type MiddlewareHandler } from 'hono';
import { stream } from 'hono/streaming';
import { KilnError } from '../errors.js';
import type { FunctionRecord } from '../functions/function-store.js';
import type { Kiln } from '../kiln.js';
import { parseLogQuery } from '../logs/log-query.js';
import type { LogRecord } from '../logs/log-store.js';
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

  app.post('/functions', control, async (c) => {
    // The body is streamed into the deployer, which caps it (deploy-input.ts).
    const result = await kiln.deployer.deploy(await readDeployRequest(c, maxDeploy));
    c.header(
      'server-timing',
      Object.entries(result.timings)
        .map(([phase, ms]) => `${phase};dur=${ms}`)
        .join(', '),
    );
    return c.json(
      {
        function: summary(result.record),
        version: result.version.version,
        layer: result.version.layer,
        layerReused: result.layerReused,
      },
      201,
    );
  });
  app.get('/functions', control, (c) => c.json({ functions: kiln.functions.list().map(summary) }));
  app.get('/functions/:name', control, (c) => c.json(kiln.functions.get(c.req.param('name'))));
  app.get('/functions/:name/versions', control, (c) =>
    c.json({ versions: kiln.functions.get(c.req.param('name')).versions }),
  );
  app.delete('/functions/:name', control, async (c) => {
    await kiln.removeFunction(c.req.param('name'));
    return c.json({ deleted: c.req.param('name') });
  });
  // NDJSON records (or `format=text` lines); `follow=1` keeps streaming until the client goes.
  app.get('/functions/:name/logs', control, (c) => {
    const name = c.req.param('name');
    kiln.functions.get(name);
    const q = parseLogQuery({
      since: c.req.query('since'),
      tail: c.req.query('tail'),
      request: c.req.query('request'),
    });
    const text = c.req.query('format') === 'text';
    const render = (r: LogRecord) =>
      text ? `${r.time} ${r.requestId ?? '-'} ${r.line}\n` : `${JSON.stringify(r)}\n`;
    c.header('content-type', text ? 'text/plain; charset=utf-8' : 'application/x-ndjson');
    if (!['1', 'true'].includes(c.req.query('follow') ?? '')) {
      return stream(c, async (out) => {
        for await (const r of kiln.logs.records(name, q)) {
          if (out.aborted) break;
          await out.write(render(r));
        }
      });
    }
    return stream(c, async (out) => {
      const gone = new Promise<void>((resolve) => out.onAbort(resolve));
      // A follower that reads slower than the function logs loses records, not gateway memory.
      let unsent = 0;
      let skipped = 0;
      const live = await kiln.logs.follow(name, q, (r) => {
        if (unsent >= 1000) {
          skipped++;
          return;
        }
        const note = skipped ? `[kiln: ${skipped} records not sent: the client read too slowly]` : undefined;
        skipped = 0;
        for (const record of note ? [{ ...r, line: note, requestId: undefined }, r] : [r]) {
          unsent++;
          void out.write(render(record)).then(() => unsent--);
        }
      });
      try {
        for await (const r of live.backlog) {
          if (out.aborted) return;
          await out.write(render(r));
        }
        live.start();
        await gone;
      } finally {
        live.stop();
      }
    });
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
