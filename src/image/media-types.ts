import { KilnError } from '../errors.js';
import { MediaType } from './types.js';

/**
 * The media types Kiln reads from registries and archives: OCI image-spec v1.1's and the
 * Docker image manifest v2 schema 2 ones they were made from (distribution/distribution
 * docs/spec/manifest-v2-2.md). Anything else is refused with a clear error rather than
 * guessed at.
 */
export const DockerMediaType = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  manifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const MANIFEST_TYPES: readonly string[] = [MediaType.manifest, DockerMediaType.manifest];
export const INDEX_TYPES: readonly string[] = [MediaType.index, DockerMediaType.manifestList];
export const CONFIG_TYPES: readonly string[] = [MediaType.config, DockerMediaType.config];

/** What a layer blob holds, by its media type. */
export type LayerCompression = 'none' | 'gzip';

const LAYER_TYPES: Record<string, LayerCompression> = {
  [MediaType.layer]: 'none',
  [MediaType.layerGzip]: 'gzip',
  [DockerMediaType.layerGzip]: 'gzip',
  // Non-distributable layers are deprecated but still ordinary tars (image-spec v1.1 layer.md).
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
};

export function layerCompression(mediaType: string): LayerCompression {
  const found = LAYER_TYPES[mediaType];
  if (found === undefined) {
    const hint = mediaType.endsWith('+zstd') ? ' (zstd layers are not supported yet: push with gzip)' : '';
    throw new KilnError(
      'unsupported_media_type',
      `layer media type "${mediaType}" is not one Kiln can unpack${hint}; supported: ${Object.keys(LAYER_TYPES).join(', ')}`,
    );
  }
  return found;
}

export function isManifestType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && MANIFEST_TYPES.includes(mediaType);
}

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_TYPES.includes(mediaType);
}

/** A config media type Kiln can read as an image config. */
export function checkConfigType(mediaType: string): void {
  if (!CONFIG_TYPES.includes(mediaType)) {
    throw new KilnError(
      'unsupported_media_type',
      `config media type "${mediaType}" is not an image config (${CONFIG_TYPES.join(' or ')})`,
    );
  }
}
