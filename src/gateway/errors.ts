import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { errorAnswer } from '../errors.js';

/** Every control-plane error leaves as `{error: {code, message}}` with a fitting status. */
export function errorResponse(c: Context, err: unknown): Response {
  const answer = errorAnswer(err);
  return c.json(answer.body, answer.status as ContentfulStatusCode, answer.headers);
}
