import { DataDir } from '../data-dir.js';
import { KilnError } from '../errors.js';
import { FunctionStore } from '../functions/function-store.js';
import { ImageStore } from '../image/image-store.js';
import { Registries } from '../image/registry/registries.js';

/**
 * The image commands (`push`, `pull`, `save`, `load`, `login`) work on the data dir
 * directly, as `runtimes build` does: the image store is safe to share with a running
 * gateway (blobs commit by rename, `index.json` changes under a file lock).
 */
export async function openLocalImages() {
  const data = DataDir.fromEnv();
  await data.ensure();
  const images = new ImageStore(data.images);
  await images.init();
  return { data, images, registries: new Registries(images) };
}

/**
 * The manifest digest of a function's image: `NAME` (its active version) or
 * `NAME:VERSION`, from the function records in the data dir.
 */
export async function functionImage(
  data: DataDir,
  nameAndVersion: string,
): Promise<{ digest: string; name: string; version: number }> {
  const [name, version] = nameAndVersion.split(':') as [string, string | undefined];
  const functions = new FunctionStore(data.functions);
  await functions.load();
  const record = functions.get(name);
  if (version !== undefined && !/^[0-9]+$/.test(version)) {
    throw new KilnError(
      'invalid_version',
      `"${version}" is not a version number (kiln versions ${name} lists them)`,
    );
  }
  const v = functions.version(record, version === undefined ? record.activeVersion : Number(version));
  return { digest: v.image, name, version: v.version };
}
