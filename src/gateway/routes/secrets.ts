import { KilnError } from '../../errors.js';
import { functionsUsingSecret } from '../../secrets/secret-users.js';
import { readJsonObject } from '../json-body.js';
import type { RouteContext } from './route-context.js';

/** Secrets: created, listed (names and sizes), removed; no route ever answers a value. */
export function register({ app, kiln, control }: RouteContext): void {
  // `{name, value}` (a UTF-8 string) or `{name, data}` (base64, any bytes: what `kiln secret create` sends).
  app.post('/secrets', control, async (c) => {
    const body = await readJsonObject(c, 1024 * 1024);
    const value = secretValue(body);
    const info = await kiln.secrets.create(String(body.name ?? ''), value);
    return c.json(info, 201);
  });
  app.get('/secrets', control, async (c) => c.json({ secrets: await kiln.secrets.list() }));
  app.get('/secrets/:name', control, async (c) => {
    const name = c.req.param('name');
    const info = await kiln.secrets.info(name);
    return c.json({ ...info, usedBy: functionsUsingSecret(kiln.functions.list(), name) });
  });
  app.delete('/secrets/:name', control, async (c) => {
    const name = c.req.param('name');
    await kiln.secrets.info(name);
    const users = functionsUsingSecret(kiln.functions.list(), name);
    if (users.length) {
      throw new KilnError(
        'secret_in_use',
        `secret "${name}" is used by ${users.join(', ')}: update them without it first (kiln update NAME --secrets …)`,
        409,
      );
    }
    await kiln.secrets.remove(name);
    return c.json({ deleted: name });
  });
}

function secretValue(body: Record<string, unknown>): Buffer {
  if (typeof body.value === 'string' && body.data === undefined) return Buffer.from(body.value, 'utf8');
  if (typeof body.data === 'string' && body.value === undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.data))
      throw new KilnError('invalid_secret', '"data" must be base64');
    return Buffer.from(body.data, 'base64');
  }
  throw new KilnError('invalid_secret', 'the body needs "value" (a string) or "data" (base64), not both');
}
