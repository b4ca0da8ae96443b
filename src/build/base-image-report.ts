import type { ImageStore } from '../image/image-store.js';
import type { LanguageName } from '../languages/registry.js';
import { type BuiltFrom, BuiltFromStore } from './built-from.js';

/** One layer of a base or builder image, with what it was built from when that is recorded. */
export interface BaseLayerReport {
  digest: string;
  size: number;
  /** The config's history entry for it: how it was made. */
  createdBy?: string;
  builtFrom?: BuiltFrom;
}

/** A language's base image or builder image as it is in this image store. */
export interface BaseImageReport {
  runtime: LanguageName;
  kind: 'base' | 'builder';
  ref: string;
  digest: string;
  /** The layers' and config's bytes as stored. */
  size: number;
  /** The runtime's own `--version`, from its language layer's record. */
  runtimeVersion?: string;
  /** Debian packages across the layers (the records' sum). */
  debianPackages: number;
  layers: BaseLayerReport[];
}

/**
 * What `kiln runtimes ls` and `inspect` show: a language's base image (`kiln/<lang>:latest`)
 * and builder (`kiln/builder-<lang>:latest`), those that are built, read from the image
 * store and the built-from records beside it. Reads only: nothing is built or recorded.
 */
export async function baseImageReports(
  images: ImageStore,
  language: LanguageName,
): Promise<BaseImageReport[]> {
  const records = new BuiltFromStore(images.root);
  const reports: BaseImageReport[] = [];
  for (const [kind, ref] of [
    ['base', `kiln/${language}:latest`],
    ['builder', `kiln/builder-${language}:latest`],
  ] as const) {
    const found = await images.resolve(ref);
    if (!found) continue;
    const image = await images.getImage(found.digest);
    const history = image.config.history?.filter((h) => !h.empty_layer) ?? [];
    const layers: BaseLayerReport[] = [];
    for (const [i, layer] of image.manifest.layers.entries()) {
      const diffId = image.config.rootfs.diff_ids[i] ?? layer.digest;
      const builtFrom = await records.get(diffId);
      layers.push({
        digest: diffId,
        size: layer.size,
        ...(history[i]?.created_by ? { createdBy: history[i].created_by } : {}),
        ...(builtFrom ? { builtFrom } : {}),
      });
    }
    const runtimeVersion = layers.find((l) => l.builtFrom?.runtime)?.builtFrom?.runtime?.version;
    reports.push({
      runtime: language,
      kind,
      ref,
      digest: found.digest,
      size: [image.manifest.config, ...image.manifest.layers].reduce((n, d) => n + d.size, 0),
      ...(runtimeVersion ? { runtimeVersion } : {}),
      debianPackages: layers.reduce((n, l) => n + (l.builtFrom?.debian.length ?? 0), 0),
      layers,
    });
  }
  return reports;
}
