import type { DeployResult } from '../../deploy/deployer.js';
import { errorAnswer } from '../../errors.js';
import type { FunctionRecord } from '../../functions/function-store.js';
import { inspectFunction } from '../../inspect/function-inspection.js';
import { readDeployRequest, readImageDeploy } from '../deploy-input.js';
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
    const deploy = kiln.telemetry.deploy(c.req.header(), nameHint);
    let result: DeployResult;
    try {
      // A JSON body names a pushed image (`{"image": REF, ...spec fields}`); anything else
      // is a bundle, streamed into the deployer, which caps it (deploy-input.ts).
      const image = await readImageDeploy(c);
      if (image) {
        result = await kiln.deployer.deployImage(image.image, image.fields, {
          insecure: image.insecure,
          phases: deploy.phases,
        });
      } else {
        const request = await readDeployRequest(c, maxDeployBytes);
        result = await kiln.deployer.deploy({ ...request, phases: deploy.phases });
      }
    } catch (err) {
      const answer = errorAnswer(err);
      deploy.failed(answer.status, answer.body.error.code);
      throw err;
    }
    deploy.succeeded({
      function: result.record.name,
      version: result.version.version,
      runtime: result.record.runtime,
      layerReused: result.layerReused,
    });
    c.header('server-timing', deploy.phases.serverTiming());
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
