import { treeBytes } from '../../disk.js';
import { referencedBlobs, usageOf } from '../../image/disk-usage.js';
import { KILN_VERSION } from '../../version.js';
import type { RouteContext } from './route-context.js';

/** `kiln system info` and `kiln system df`. */
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

  // What each kind of stored thing takes; "reclaimable": nothing the image index names reaches it.
  app.get('/system/df', control, async (c) => {
    const used = await referencedBlobs(kiln.images);
    const blobs = (await kiln.images.listBlobs()).map((b) => ({ digest: b.digest, bytes: b.size }));
    const snapshots = await Promise.all(
      (await kiln.snapshots.list()).map(async (digest) => ({
        digest,
        bytes: await treeBytes(kiln.snapshots.path(digest)),
      })),
    );
    const images = usageOf(blobs, used);
    const snapshotUsage = usageOf(snapshots, used);
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
}
