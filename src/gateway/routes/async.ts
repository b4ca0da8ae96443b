import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { isInvocationId } from '../../async/async-store.js';
import { ASYNC_STATES, type AsyncState } from '../../async/invocation.js';
import { checkInvokeAuth } from '../../auth/invoke-auth.js';
import { KilnError } from '../../errors.js';
import { CALL_DEPTH_HEADER } from '../../pool/call-depths.js';
import { asyncCallDepth } from '../call-policy.js';
import type { RouteContext } from './route-context.js';

/**
 * Async invocations. `POST /async/:name/*` is an invoke, public like `/fn/*` (unless the
 * function's spec says `auth: "token"`); `GET
 * /async/:id` is public too (an id is an unguessable UUID the submitter was given);
 * listing and re-driving are control-plane routes.
 */
export function register({ app, kiln, control, maxInvokeBytes, invokeCheck }: RouteContext): void {
  app.get('/async', control, (c) => {
    const state = c.req.query('state');
    if (state !== undefined && !ASYNC_STATES.includes(state as AsyncState))
      throw new KilnError('invalid_state', `state must be one of ${ASYNC_STATES.join(', ')}`);
    return c.json({
      invocations: kiln.asyncInvoker.list({
        state: state as AsyncState | undefined,
        function: c.req.query('function'),
      }),
    });
  });
  app.get('/async/:id', (c) => c.json(kiln.asyncInvoker.view(c.req.param('id'))));

  const submit = async (c: Context) => {
    const name = c.req.param('name')!;
    const prefix = `/async/${name}`;
    const url = new URL(c.req.url);
    const rest = url.pathname.slice(prefix.length) || '/';
    // `POST /async/<id>/retry` re-drives an invocation; a function that happens to be named
    // like a UUID still gets its invokes, since only a known invocation id is re-driven.
    if (rest === '/retry' && isInvocationId(name) && kiln.asyncInvoker.has(name)) {
      await control(c, async () => undefined);
      const inv = await kiln.asyncInvoker.retry(name);
      c.header('location', `/async/${inv.id}`);
      return c.json({ id: inv.id, state: 'queued' }, 202);
    }
    // The same rule as a sync invoke: a function with `auth: "token"` needs the token.
    checkInvokeAuth(kiln.functions, name, c.req.header('authorization'), invokeCheck);
    const body = await readCapped(c, maxInvokeBytes);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, key) => {
      if (key !== 'x-callback-url' && !key.startsWith('x-kiln-')) headers[key] = value;
    });
    // Submitted by a function over its call socket: the depth goes with the invocation, so
    // its attempts count toward the same limit (a loop through async invokes stops too).
    const depth = asyncCallDepth((c.env as { incoming?: IncomingMessage } | undefined)?.incoming);
    if (depth !== undefined) headers[CALL_DEPTH_HEADER] = String(depth);
    const inv = await kiln.asyncInvoker.submit(
      name,
      { method: 'POST', path: `${rest}${url.search}`, headers, body },
      { callbackUrl: c.req.header('x-callback-url') },
    );
    c.header('location', `/async/${inv.id}`);
    c.header('x-kiln-invocation-id', inv.id);
    return c.json({ id: inv.id, state: 'queued', location: `/async/${inv.id}` }, 202);
  };
  app.post('/async/:name', submit);
  app.post('/async/:name/*', submit);
}

/** The request body, or 413 past `limit` (read to its end first, so the client sees the answer). */
async function readCapped(c: Context, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = c.req.raw.body;
  if (stream) {
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size <= limit) chunks.push(Buffer.from(chunk));
    }
  }
  if (size > limit)
    throw new KilnError(
      'request_too_large',
      `the request body is larger than ${Math.round(limit / 1048576)} MiB`,
      413,
    );
  return Buffer.concat(chunks);
}
