import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import type { ImageStore } from '../image/image-store.js';
import { formatReference, type ImageReference, parseReference } from '../image/registry/reference.js';
import { REF_NAME } from '../image/types.js';

/**
 * Where a function version's image was pushed, as a cluster pulls it: `REGISTRY/REPO@sha256:…`.
 *
 * `kiln push` stores the manifest it sent and tags it `REGISTRY/REPO:TAG` in the local image
 * store (src/image/registry/push.ts); that manifest's digest is the registry's (its layers
 * gzipped), not the local image's. Its config blob is the local image's, byte for byte, so
 * the config digest says which version a pushed image is: the config holds the function's
 * env and spec (src/deploy/function-image.ts).
 */
export async function pushedImageOf(
  images: ImageStore,
  name: string,
  version: FunctionVersion,
  where: { image?: string; registry?: string },
): Promise<string> {
  const config = (await images.getImage(version.image)).manifest.config.digest;
  const isVersion = async (digest: string) =>
    (await images.has(digest)) && (await images.getImage(digest)).manifest.config.digest === config;

  if (where.image) {
    const ref = parseReference(where.image);
    const digest =
      ref.digest ??
      (await images.resolve(`${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`))?.digest;
    if (!digest || !(await images.has(digest))) {
      throw new KilnError(
        'image_not_found',
        `${where.image} is not in the image store: kiln push ${name} ${where.image} first`,
        404,
      );
    }
    if (!(await isVersion(digest))) {
      throw new KilnError(
        'image_mismatch',
        `${where.image} is not ${name}'s active version ${version.version} (kiln push ${name} ${where.image} again)`,
      );
    }
    return formatReference({ registry: ref.registry, repository: ref.repository, digest });
  }

  const prefix = where.registry?.replace(/\/+$/, '');
  const found = new Set<string>();
  for (const { ref, digest } of await pushedRefs(images)) {
    const full = `${ref.registry}/${ref.repository}`;
    if (prefix && full !== prefix && !full.startsWith(`${prefix}/`)) continue;
    if (await isVersion(digest)) found.add(formatReference({ ...ref, tag: undefined, digest }));
  }
  if (found.size === 0) {
    throw new KilnError(
      'image_not_found',
      `${name}'s active version ${version.version} was never pushed${prefix ? ` to ${prefix}` : ''}: kiln push ${name} ${prefix ?? 'REGISTRY'}/REPO:TAG first`,
      404,
    );
  }
  if (found.size > 1) {
    throw new KilnError(
      'ambiguous_image',
      `${name}'s active version ${version.version} was pushed to ${[...found].sort().join(', ')}: say which with --registry or --image`,
    );
  }
  return [...found][0]!;
}

/**
 * The image store's refs that name a registry (`REGISTRY/REPO:TAG`, as push and pull tag
 * them), not Kiln's own (`fn/NAME:VERSION`, `kiln/…`): Docker's rule, a first component
 * with a `.` or `:` or `localhost`, is the one `parseReference` applies.
 */
async function pushedRefs(images: ImageStore): Promise<{ ref: ImageReference; digest: string }[]> {
  const out: { ref: ImageReference; digest: string }[] = [];
  for (const entry of (await images.readIndex()).manifests) {
    const name = entry.annotations?.[REF_NAME];
    if (!name) continue;
    let ref: ImageReference;
    try {
      ref = parseReference(name);
    } catch {
      continue;
    }
    if (name.startsWith(`${ref.registry}/`)) out.push({ ref, digest: entry.digest });
  }
  return out;
}
