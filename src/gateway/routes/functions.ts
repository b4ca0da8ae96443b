import type { FunctionRecord } from '../../functions/function-store.js';
import { inspectFunction } from '../../inspect/function-inspection.js';
import { readDeployRequest, readImageDeploy } from '../deploy-input.js';
import { tracedDeploy } from '../traced-deploy.js';
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
    aliases: record.aliases ?? {},
    updatedAt: record.updatedAt,
  };
}

/** Deploy, list, show and remove functions. */
export function register({ app, kiln, control, maxDeployBytes }: RouteContext): void {
  app.post('/functions', control, async (c) => {
    const nameHint = c.req.query('name') ?? c.req.header('x-kiln-name');
    const { result, serverTiming } = await tracedDeploy(kiln, c.req.header(), nameHint, async (phases) => {
      // A JSON body names a pushed image (`{"image": REF, ...spec fields}`); anything else
      // is a bundle, streamed into the deployer, which caps it (deploy-input.ts).
      const image = await readImageDeploy(c);
      if (image) {
        return kiln.deployer.deployImage(image.image, image.fields, { insecure: image.insecure, phases });
      }
      const request = await readDeployRequest(c, maxDeployBytes);
      return kiln.deployer.deploy({ ...request, phases });
    });
    c.header('server-timing', serverTiming);
    return c.json(
      {
        function: summary(result.record),
        version: result.version.version,
        layer: result.version.layer,
        layerReused: result.layerReused,
        unchanged: result.unchanged,
      },
      result.unchanged ? 200 : 201,
    );
  });
  app.get('/functions', control, (c) => c.json({ functions: kiln.functions.list().map(summary) }));
  app.get('/functions/:name', control, (c) => c.json(kiln.functions.get(c.req.param('name'))));
  // `kiln inspect`: the record with the active image's layers (kind, size); secrets by name only.
  app.get('/functions/:name/inspect', control, async (c) =>
    c.json(await inspectFunction(kiln.functions.get(c.req.param('name')), kiln.images)),
  );
  app.delete('/functions/:name', control, async (c) => {
    await kiln.removeFunction(c.req.param('name'));
    return c.json({ deleted: c.req.param('name') });
  });
}
