import { clearDeadIngest } from '../deploy/debris.js';
import type { FunctionStore } from '../functions/function-store.js';
import { staleSnapshotTemps } from '../image/garbage-collection.js';
import type { ImageStore } from '../image/image-store.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import type { LogStore } from '../logs/log-store.js';
import type { ImagePruner, PruneReport } from './image-pruner.js';

/** A snapshot temp dir this old was left by a maker that died (an unpack takes seconds). */
const STALE_SNAPSHOT_TEMP_MS = 60 * 60 * 1000;

export interface SystemPruneReport {
  images: PruneReport;
  /** Logs of functions that no longer exist (a gateway killed between removing a function and its logs). */
  logs: { functions: string[]; bytes: number };
  /** Ingest files of writers that are gone, snapshot dirs a dead maker left half made. */
  debris: { ingestFiles: number; snapshotTemps: number; bytes: number };
  freedBytes: number;
}

/**
 * `kiln system prune`: the image prune, then logs no function owns and what dead writers
 * left, all under the store's prune lock: no deploy is under way (a new function's logs
 * exist before its record does, during its trial start), and one that starts waits.
 */
export function pruneSystem(
  parts: {
    pruner: ImagePruner;
    images: ImageStore;
    snapshots: SnapshotStore;
    functions: FunctionStore;
    logs: LogStore;
  },
  options: { all?: boolean } = {},
): Promise<SystemPruneReport> {
  const { pruner, images, snapshots, functions, logs } = parts;
  return images.leases.exclusive(async () => {
    const imageReport = await pruner.pruneLocked(options);
    const orphans = (await logs.functionsWithLogs()).filter((fn) => !functions.has(fn));
    let logBytes = 0;
    for (const fn of orphans) {
      logBytes += await logs.diskUsage(fn);
      await logs.remove(fn);
    }
    const ingest = await clearDeadIngest(images.root);
    const snapshotTemps = await staleSnapshotTemps(snapshots, STALE_SNAPSHOT_TEMP_MS);
    return {
      images: imageReport,
      logs: { functions: orphans, bytes: logBytes },
      debris: { ingestFiles: ingest.files, snapshotTemps, bytes: ingest.bytes },
      freedBytes: imageReport.freedBytes + logBytes + ingest.bytes,
    };
  });
}
