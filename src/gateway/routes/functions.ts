import type { FunctionRecord } from '../../functions/function-store.js';
import { readDeployRequest } from '../deploy-input.js';
import type { RouteContext } from './route-context.js';

function summary(record: FunctionRecord) {
  const active = record.versions.find((v) => v.version === record.activeVersion);
  return {
    name: record.name,
    runtime: record.runtime,
    version: record.activeVersion,
    handler: active?.spec.handler ?? null,
    memoryMb: active?.spec.memoryMb,
    image: active?.image,
    versions: record.versions.length,
    updatedAt: record.updatedAt,
  };
}

/** Deploy, list, show and remove functions. */
export function register({ app, kiln, control, maxDeployBytes }: RouteContext): void {
  app.post('/functions', control, async (c) => {
    // The body is streamed into the deployer, which caps it (deploy-input.ts).
    const result = await kiln.deployer.deploy(await readDeployRequest(c, maxDeployBytes));
    c.header(
      'server-timing',
      Object.entries(result.timings)
        .map(([phase, ms]) => `${phase};dur=${ms}`)
        .join(', '),
    );
    return c.json(
      {
        function: summary(result.record),
        version: result.version.version,
        layer: result.version.layer,
        layerReused: result.layerReused,
      },
      201,
    );
  });
  app.get('/functions', control, (c) => c.json({ functions: kiln.functions.list().map(summary) }));
  app.get('/functions/:name', control, (c) => c.json(kiln.functions.get(c.req.param('name'))));
  app.get('/functions/:name/versions', control, (c) =>
    c.json({ versions: kiln.functions.get(c.req.param('name')).versions }),
  );
  app.delete('/functions/:name', control, async (c) => {
    await kiln.removeFunction(c.req.param('name'));
    return c.json({ deleted: c.req.param('name') });
  });
}
