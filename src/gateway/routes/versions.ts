import { parseVersionNumber, validateAliasName } from '../../functions/function-ref.js';
import { readJsonObject } from '../json-body.js';
import type { RouteContext } from './route-context.js';

/** A function's versions: rollback, aliases, config updates. */
export function register({ app, kiln, control }: RouteContext): void {
  app.get('/functions/:name/versions', control, (c) => {
    const record = kiln.functions.get(c.req.param('name'));
    return c.json({ active: record.activeVersion, versions: record.versions, aliases: record.aliases ?? {} });
  });

  // `{version}` makes that version active; no body: the highest version below the active one.
  app.post('/functions/:name/rollback', control, async (c) => {
    const body = await readJsonObject(c);
    const version = body.version === undefined ? undefined : parseVersionNumber(body.version);
    const result = await kiln.deployer.rollback(c.req.param('name'), version);
    return c.json({
      function: result.record.name,
      version: result.version.version,
      previous: result.previous,
      unchanged: result.unchanged,
    });
  });

  // A JSON merge patch of spec fields (limits, env): a new version from the same image.
  app.patch('/functions/:name', control, async (c) => {
    const result = await kiln.deployer.updateConfig(c.req.param('name'), await readJsonObject(c));
    return c.json(
      {
        function: result.record.name,
        version: result.version.version,
        previous: result.previous,
        unchanged: result.unchanged,
        spec: result.version.spec,
      },
      result.unchanged ? 200 : 201,
    );
  });

  app.get('/functions/:name/aliases', control, (c) => {
    const record = kiln.functions.get(c.req.param('name'));
    return c.json({ aliases: aliasList(record.aliases) });
  });
  // `{version}`: point the alias at that version (made if new).
  app.put('/functions/:name/aliases/:alias', control, async (c) => {
    const alias = validateAliasName(c.req.param('alias'));
    const version = parseVersionNumber((await readJsonObject(c)).version);
    const record = await kiln.functions.setAlias(c.req.param('name'), alias, version);
    return c.json({ function: record.name, alias, version });
  });
  app.delete('/functions/:name/aliases/:alias', control, async (c) => {
    const alias = c.req.param('alias');
    const record = await kiln.functions.removeAlias(c.req.param('name'), alias);
    return c.json({ function: record.name, deleted: alias });
  });
}

function aliasList(aliases: Record<string, number> = {}) {
  return Object.entries(aliases)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, version]) => ({ name, version }));
}
