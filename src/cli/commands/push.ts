import type { Command } from 'commander';
import { functionImage, openLocalImages } from '../local-images.js';
import { progressBars } from '../progress-bars.js';

interface TransferFlags {
  insecure?: boolean;
}

export function register(program: Command): void {
  program
    .command('push <function> <target>')
    .description("push a function's image (NAME or NAME:VERSION) to a registry as REGISTRY/REPO:TAG")
    .option('--insecure', 'allow plain http to a registry that is not on loopback')
    .action(push);
  program
    .command('pull <ref>')
    .description('pull an image (REGISTRY/REPO:TAG or @sha256:…) into the image store')
    .option('--insecure', 'allow plain http to a registry that is not on loopback')
    .action(pull);
}

async function push(fn: string, target: string, flags: TransferFlags): Promise<void> {
  const { data, registries } = await openLocalImages();
  const image = await functionImage(data, fn);
  const result = await registries.push(image.digest, target, {
    insecure: flags.insecure,
    onProgress: progressBars(),
  });
  console.log(
    `pushed ${image.name} version ${image.version} to ${target}: ${result.digest} (${result.uploaded} blobs uploaded, ${result.existed} already there, ${result.mounted} mounted)`,
  );
}

async function pull(ref: string, flags: TransferFlags): Promise<void> {
  const { registries } = await openLocalImages();
  const result = await registries.pull(ref, { insecure: flags.insecure, onProgress: progressBars() });
  console.log(
    `pulled ${result.ref}: ${result.manifest.digest} (${result.downloaded} blobs downloaded, ${result.existed} already here)`,
  );
}
