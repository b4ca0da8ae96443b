import type { Command } from 'commander';
import { KilnError } from '../../errors.js';
import { loadImages, saveImage } from '../../image/archive.js';
import { functionImage, openLocalImages } from '../local-images.js';

export function register(program: Command): void {
  program
    .command('save <image>')
    .description(
      "write a function's image (NAME or NAME:VERSION), or a stored REGISTRY/REPO:TAG, as an OCI archive (podman load reads it)",
    )
    .requiredOption('-o, --output <file>', 'the archive to write')
    .action(save);
  program
    .command('load')
    .description(
      'load the images of an OCI archive (podman save --format oci-archive, kiln save) into the image store',
    )
    .requiredOption('-i, --input <file>', 'the archive to read')
    .action(load);
}

async function save(image: string, flags: { output: string }): Promise<void> {
  const { data, images, registries } = await openLocalImages();
  let digest: string;
  let name: string;
  if (image.includes('/')) {
    const found = await images.resolve(image);
    if (!found) throw new KilnError('image_not_found', `no image named ${image} in the store`, 404);
    digest = found.digest;
    name = image;
  } else {
    const fn = await functionImage(data, image);
    digest = fn.digest;
    name = `localhost/${fn.name}:${fn.version}`;
  }
  const saved = await saveImage({
    store: images,
    compressed: registries.compressed,
    manifestDigest: digest,
    name,
    out: flags.output,
    workDir: data.tmp,
  });
  console.log(`saved ${name} (${saved.digest}) to ${flags.output}`);
}

async function load(flags: { input: string }): Promise<void> {
  const { data, images, registries } = await openLocalImages();
  const loaded = await loadImages({
    store: images,
    compressed: registries.compressed,
    archive: flags.input,
    workDir: data.tmp,
  });
  for (const image of loaded) console.log(`loaded ${image.name}: ${image.digest}`);
}
