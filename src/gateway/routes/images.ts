import { KilnError } from '../../errors.js';
import type { RouteContext } from './route-context.js';

/** The image store: list (with the functions using each image), `kiln rmi`, `kiln image prune`. */
export function register({ app, kiln, control }: RouteContext): void {
  app.get('/images', control, async (c) => c.json({ images: await kiln.pruner.list() }));
  // `:image` is a ref (`kiln/java:latest`, `registry/repo:tag`, URL-encoded), a manifest
  // digest or a unique prefix of its hex (what `kiln images` shows).
  app.delete('/images/:image{.+}', control, async (c) =>
    c.json(await kiln.pruner.remove(c.req.param('image'))),
  );
  app.post('/images/prune', control, async (c) =>
    c.json(await kiln.pruner.prune({ all: pruneAll(c.req.query('all')) })),
  );
}

/** `?all=1`: also what no function needs but is tagged (unused base images, builders, pulled images). */
export function pruneAll(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new KilnError('invalid_query', `"all" must be 1 or 0, got "${raw.slice(0, 40)}"`);
}
