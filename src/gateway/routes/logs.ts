import { stream } from 'hono/streaming';
import { parseLogQuery } from '../../logs/log-query.js';
import type { LogRecord } from '../../logs/log-store.js';
import type { RouteContext } from './route-context.js';

/** A function's logs. */
export function register({ app, kiln, control }: RouteContext): void {
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
}
