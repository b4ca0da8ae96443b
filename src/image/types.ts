/**
 * OCI image-spec objects as Kiln writes them (image-spec v1.1). Only the fields Kiln
 * reads or writes are typed; the rest of the spec passes through untouched.
 */
export const MediaType = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** The annotation OCI image-layout uses to name a manifest in `index.json`. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  created?: string;
  config: {
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, Record<string, never>>;
    Labels?: Record<string, string>;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

/** One entry of a config's `history` (image-spec config.md): how a layer was made. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: typeof MediaType.manifest;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: typeof MediaType.index;
  manifests: Descriptor[];
}

/** A manifest resolved with its config: what the runtime needs to run an image. */
export interface Image {
  manifest: Manifest;
  manifestDigest: string;
  config: ImageConfig;
}
