import type { RouteContext } from './route-context.js';

/**
 * `GET /metrics`: Prometheus text (src/telemetry/metrics.ts). Behind the control-plane token
 * like the rest of the API, unless `KILN_METRICS_PUBLIC=1` (a scraper on a trusted network
 * without the token): the metrics name functions and their traffic.
 */
export function register({ app, kiln, control }: RouteContext): void {
  const open: typeof control = async (_c, next) => {
    await next();
  };
  app.get('/metrics', process.env.KILN_METRICS_PUBLIC === '1' ? open : control, async (c) => {
    const text = await kiln.telemetry.metrics.render();
    return c.body(text, 200, { 'content-type': kiln.telemetry.metrics.contentType });
  });
}
