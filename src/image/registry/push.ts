import { KilnError } from '../../errors.js';
import type { BlobSources } from '../blob-sources.js';
import type { CompressedLayers } from '../compressed-layers.js';
import { sha256Digest } from '../digest.js';
import type { ImageStore } from '../image-store.js';
import type { Descriptor, Image, Manifest } from '../types.js';
import type { ImageReference } from './reference.js';
import type { RegistryClient } from './registry-client.js';
import { NO_PROGRESS, type TransferProgress } from './transfer-progress.js';

export interface PushResult {
  /** The pushed manifest's digest: `REGISTRY/REPO@<digest>` names exactly this image. */
  digest: string;
  /** Blobs sent, blobs the registry had, blobs mounted from another repository. */
  uploaded: number;
  existed: number;
  mounted: number;
}

/**
 * Push an image to `target`: its layers gzipped (cached, `CompressedLayers`), every blob
 * the registry lacks uploaded (HEAD first; a cross-repository mount when another
 * repository of that registry is known to hold it), then the manifest under the tag.
 * The pushed manifest is stored and tagged locally under the target's name too, so it
 * can be saved, deployed or pushed again without a pull.
 */
export async function pushImage(input: {
  store: ImageStore;
  compressed: CompressedLayers;
  sources: BlobSources;
  client: RegistryClient;
  image: Image;
  target: ImageReference;
  onProgress?: TransferProgress;
}): Promise<PushResult> {
  const { store, compressed, sources, client, image, target } = input;
  const onProgress = input.onProgress ?? NO_PROGRESS;
  const layers: Descriptor[] = [];
  for (const layer of image.manifest.layers) {
    const gz = await compressed.gzipped(layer, (bytes) =>
      onProgress({ digest: layer.digest, phase: 'compress', bytes, total: layer.size }),
    );
    layers.push(gz.annotations ? gz : { mediaType: gz.mediaType, digest: gz.digest, size: gz.size });
  }
  const unchanged = layers.every((l, i) => l.digest === image.manifest.layers[i]!.digest);
  // An image that is already all gzip (a pulled one) is pushed byte for byte, so its digest stays.
  const bytes = unchanged
    ? await store.readBlob(image.manifestDigest)
    : Buffer.from(JSON.stringify({ ...image.manifest, layers } satisfies Manifest));
  const mediaType =
    (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? image.manifest.mediaType;
  const result: PushResult = { digest: sha256Digest(bytes), uploaded: 0, existed: 0, mounted: 0 };
  for (const blob of [image.manifest.config, ...layers]) {
    if (await client.hasBlob(target.repository, blob.digest)) {
      result.existed++;
      onProgress({ digest: blob.digest, phase: 'exists', bytes: blob.size, total: blob.size });
    } else {
      const how = await client.pushBlob(
        target.repository,
        { digest: blob.digest, size: blob.size, file: store.blobPath(blob.digest) },
        await sources.repositories(blob.digest, target.registry),
        (n) => onProgress({ digest: blob.digest, phase: 'upload', bytes: n, total: blob.size }),
      );
      if (how === 'mounted') {
        result.mounted++;
        onProgress({ digest: blob.digest, phase: 'mounted', bytes: blob.size, total: blob.size });
      } else result.uploaded++;
    }
    await sources.add(blob.digest, target.registry, target.repository);
    onProgress({ digest: blob.digest, phase: 'done', bytes: 0, total: blob.size });
  }
  const reported = await client.putManifest(target.repository, target.tag ?? result.digest, mediaType, bytes);
  if (reported && reported !== result.digest) {
    throw new KilnError(
      'digest_mismatch',
      `${target.registry} stored the manifest as ${reported}, but its bytes hash to ${result.digest}`,
      502,
    );
  }
  const local = await store.putBytes(bytes, mediaType);
  await store.tag(`${target.registry}/${target.repository}:${target.tag ?? 'latest'}`, local);
  return result;
}
