import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { KilnError } from '../errors.js';

/** Every error leaves the gateway as `{error: {code, message}}` with a fitting status. */
export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof KilnError) {
    return c.json(err.toJSON(), err.status as ContentfulStatusCode, err.headers);
  }
  console.error('kiln: internal error:', err);
  return c.json({ error: { code: 'internal_error', message: (err as Error)?.message ?? String(err) } }, 500);
}
