import type { RouteContext } from './route-context.js';

/** `kiln ps` and `kiln stop`. */
export function register({ app, kiln, control }: RouteContext): void {
  app.delete('/instances/:id', control, async (c) => {
    await kiln.pool.stop(c.req.param('id'));
    return c.json({ stopped: c.req.param('id') });
  });
  app.get('/instances', control, async (c) =>
    c.json({ instances: await kiln.pool.list(), stemCells: await kiln.pool.listStemCells() }),
  );
}
