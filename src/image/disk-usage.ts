import type { ImageStore } from './image-store.js';
import type { Manifest } from './types.js';

/** What one kind of stored thing takes on disk, and how much of it nothing references. */
export interface UsageLine {
  count: number;
  bytes: number;
  reclaimableCount: number;
  reclaimableBytes: number;
}

/**
 * Blobs the index's refs reach: each tagged manifest, its config and its layers (the mark
 * phase a prune would sweep after). A ref whose manifest is missing marks nothing.
 */
export async function referencedBlobs(images: ImageStore): Promise<Set<string>> {
  const marked = new Set<string>();
  for (const entry of (await images.readIndex()).manifests) {
    marked.add(entry.digest);
    const manifest = await images.readJson<Manifest>(entry.digest).catch(() => undefined);
    if (!manifest?.config) continue;
    marked.add(manifest.config.digest);
    for (const layer of manifest.layers ?? []) marked.add(layer.digest);
  }
  return marked;
}

/** Sum sizes, and those of entries `used` does not hold. */
export function usageOf(
  entries: readonly { digest: string; bytes: number }[],
  used: ReadonlySet<string>,
): UsageLine {
  const line: UsageLine = { count: 0, bytes: 0, reclaimableCount: 0, reclaimableBytes: 0 };
  for (const e of entries) {
    line.count++;
    line.bytes += e.bytes;
    if (!used.has(e.digest)) {
      line.reclaimableCount++;
      line.reclaimableBytes += e.bytes;
    }
  }
  return line;
}
