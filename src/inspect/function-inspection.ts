import type { FunctionRecord, FunctionVersion } from '../functions/function-store.js';
import type { FunctionSpec } from '../functions/spec.js';
import type { ImageStore } from '../image/image-store.js';
import { type Manifest, REF_NAME } from '../image/types.js';

/** What a layer of a function's image is: Kiln's base layers, the function's own, or unknown. */
export type LayerKind = 'os' | 'language' | 'shim' | 'function' | 'base';

export interface InspectedLayer {
  digest: string;
  size: number;
  mediaType: string;
  kind: LayerKind;
  /** The image config's history entry for the layer (how it was made). */
  createdBy?: string;
}

export interface InspectedVersion {
  version: number;
  active: boolean;
  /** Aliases naming it. */
  aliases: string[];
  image: string;
  layer: string;
  handler: string;
  source: string;
  sourceDigest?: string;
  createdAt: string;
  spec: FunctionSpec;
}

/**
 * `kiln inspect NAME` (`GET /functions/:name/inspect`): the function, every version, its
 * aliases, and the active version's image with each layer's digest, size and kind. Secrets
 * appear as the names the spec lists (`spec.secrets`); their values live only in the secret
 * store and are in no answer.
 */
export interface FunctionInspection {
  name: string;
  runtime: string;
  activeVersion: number;
  aliases: Record<string, number>;
  createdAt: string;
  updatedAt: string;
  /** The active version's spec. */
  spec: FunctionSpec;
  secrets: string[];
  image: { digest: string; size: number; created?: string; layers: InspectedLayer[] };
  versions: InspectedVersion[];
}

/** The ref prefixes base layers are cached under (src/build/base-images.ts), and what each is. */
const BASE_REFS: [RegExp, LayerKind][] = [
  [/^kiln\/os:/, 'os'],
  [/^kiln\/lang-/, 'language'],
  [/^kiln\/shim-/, 'shim'],
];

/** Kiln's function images are [os, language, shim, function] (Deployer.deploy): the kinds by place. */
const KINDS_BY_PLACE: LayerKind[] = ['os', 'language', 'shim', 'function'];

export async function inspectFunction(
  record: FunctionRecord,
  images: ImageStore,
): Promise<FunctionInspection> {
  const active = record.versions.find((v) => v.version === record.activeVersion) as FunctionVersion;
  const image = await images.getImage(active.image);
  const kindOf = await baseLayerKinds(images);
  const history = image.config.history?.filter((h) => !h.empty_layer) ?? [];
  const layers = image.manifest.layers.map((l, i): InspectedLayer => {
    const last = i === image.manifest.layers.length - 1;
    const byPlace = image.manifest.layers.length === KINDS_BY_PLACE.length ? KINDS_BY_PLACE[i] : undefined;
    const kind = l.digest === active.layer || last ? 'function' : (kindOf.get(l.digest) ?? byPlace ?? 'base');
    return {
      digest: l.digest,
      size: l.size,
      mediaType: l.mediaType,
      kind,
      ...(history[i]?.created_by ? { createdBy: history[i]?.created_by } : {}),
    };
  });
  const aliases = record.aliases ?? {};
  return {
    name: record.name,
    runtime: record.runtime,
    activeVersion: record.activeVersion,
    aliases,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    spec: active.spec,
    secrets: active.spec.secrets ?? [],
    image: {
      digest: active.image,
      size: [image.manifest.config, ...image.manifest.layers].reduce((n, d) => n + d.size, 0),
      created: image.config.created,
      layers,
    },
    versions: record.versions.map((v) => ({
      version: v.version,
      active: v.version === record.activeVersion,
      aliases: Object.keys(aliases).filter((a) => aliases[a] === v.version),
      image: v.image,
      layer: v.layer,
      handler: v.handler,
      source: v.source,
      ...(v.sourceDigest ? { sourceDigest: v.sourceDigest } : {}),
      createdAt: v.createdAt,
      spec: v.spec,
    })),
  };
}

/** Layer digest → kind, from the single-layer images base layers are cached under. */
async function baseLayerKinds(images: ImageStore): Promise<Map<string, LayerKind>> {
  const kinds = new Map<string, LayerKind>();
  for (const entry of (await images.readIndex()).manifests) {
    const ref = entry.annotations?.[REF_NAME] ?? '';
    const kind = BASE_REFS.find(([re]) => re.test(ref))?.[1];
    if (!kind) continue;
    const manifest = await images.readJson<Partial<Manifest>>(entry.digest).catch(() => undefined);
    const layers = manifest?.layers ?? [];
    if (layers.length === 1) kinds.set(layers[0]!.digest, kind);
  }
  return kinds;
}
