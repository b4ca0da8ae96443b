import { inUse } from '../../volumes/volume-store.js';
import { functionsUsingVolume } from '../../volumes/volume-users.js';
import { readJsonObject } from '../json-body.js';
import type { RouteContext } from './route-context.js';

/** Named volumes: created, listed with their size and users, removed when nothing uses them. */
export function register({ app, kiln, control }: RouteContext): void {
  app.post('/volumes', control, async (c) => {
    const body = await readJsonObject(c);
    return c.json(await kiln.volumes.create(body.name), 201);
  });
  app.get('/volumes', control, async (c) => {
    const records = kiln.functions.list();
    const volumes = await kiln.volumes.list();
    return c.json({ volumes: volumes.map((v) => ({ ...v, usedBy: functionsUsingVolume(records, v.name) })) });
  });
  app.get('/volumes/:name', control, async (c) => {
    const name = c.req.param('name');
    const info = await kiln.volumes.info(name);
    return c.json({
      ...info,
      usedBy: functionsUsingVolume(kiln.functions.list(), name),
      mountedBy: kiln.volumes.holdersOf(name),
    });
  });
  app.delete('/volumes/:name', control, async (c) => {
    const name = c.req.param('name');
    await kiln.volumes.info(name);
    const users = functionsUsingVolume(kiln.functions.list(), name);
    if (users.length) throw inUse(name, users);
    await kiln.volumes.remove(name);
    return c.json({ deleted: name });
  });
}
