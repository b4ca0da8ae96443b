import { KILN_VERSION } from '../../version.js';
import { pruneAll } from './images.js';
import type { RouteContext } from './route-context.js';

/** `kiln system info`, `kiln system df` and `kiln system prune`. */
export function register({ app, kiln, control }: RouteContext): void {
  app.get('/system/info', control, async (c) => {
    const records = kiln.functions.list();
    return c.json({
      version: KILN_VERSION,
      node: process.version,
      ociRuntime: await kiln.runtime.driver.version(),
      cgroup: kiln.runtime.cgroups.version,
      dataDir: kiln.data.root,
      functions: records.length,
      versions: records.reduce((n, r) => n + r.versions.length, 0),
      instances: (await kiln.pool.list()).length,
      stemCells: (await kiln.pool.listStemCells()).length,
      secrets: (await kiln.secrets.list()).length,
      volumes: (await kiln.volumes.list()).length,
    });
  });

  // What each kind of stored thing takes; "reclaimable": what `kiln image prune` would remove
  // (no ref, function version or running container reaches it).
  app.get('/system/df', control, async (c) => {
    const { images, snapshots: snapshotUsage } = await kiln.pruner.diskUsage();
    const logs = await kiln.logs.diskUsage();
    return c.json({
      images,
      snapshots: snapshotUsage,
      logs: { bytes: logs },
      // A volume's data is never reclaimable: only `kiln volume rm` deletes it.
      volumes: await kiln.volumes.diskUsage(),
      reclaimableBytes: images.reclaimableBytes + snapshotUsage.reclaimableBytes,
    });
  });
  app.post('/system/prune', control, async (c) =>
    c.json(await kiln.pruneSystem({ all: pruneAll(c.req.query('all')) })),
  );
}
