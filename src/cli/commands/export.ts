import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { KilnError } from '../../errors.js';
import {
  type KubernetesObject,
  knativeService,
  kubernetesManifests,
} from '../../export/kubernetes-manifests.js';
import { FunctionStore } from '../../functions/function-store.js';
import { formatReference, parseReference } from '../../image/registry/reference.js';
import { openLocalImages } from '../local-images.js';

interface ExportFlags {
  image: string;
  namespace?: string;
  knative?: boolean;
  output?: string;
}

export function register(program: Command): void {
  const exporter = program.command('export').description('write what runs a function elsewhere');
  exporter
    .command('k8s <name>')
    .description(
      "Kubernetes manifests (Deployment, Service, HorizontalPodAutoscaler; --knative: a Knative Service) for a function's pushed image",
    )
    .requiredOption(
      '--image <ref>',
      'where the image was pushed (REGISTRY/REPO:TAG as given to kiln push, or @sha256:…): the manifests pin its digest',
    )
    .option('-n, --namespace <ns>', 'the namespace of every object')
    .option('--knative', 'a Knative Service (scale to zero) instead')
    .option('-o, --output <dir>', 'write NAME.yaml into this dir instead of stdout')
    .action(exportK8s);
}

async function exportK8s(name: string, flags: ExportFlags): Promise<void> {
  const { data, images } = await openLocalImages();
  const functions = new FunctionStore(data.functions);
  await functions.load();
  const version = functions.active(name);
  const ref = parseReference(flags.image);
  // `kiln push` tags what it pushed as REGISTRY/REPO:TAG; that manifest's digest is the one
  // the registry has (its layers gzipped), not the local image's.
  const digest =
    ref.digest ?? (await images.resolve(`${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`))?.digest;
  if (!digest || !(await images.has(digest))) {
    throw new KilnError(
      'image_not_found',
      `${flags.image} is not in the image store: kiln push ${name} ${flags.image} first`,
      404,
    );
  }
  const pushed = await images.getImage(digest);
  const fnLayer = pushed.config.rootfs.diff_ids.at(-1);
  if (fnLayer !== version.layer) {
    throw new KilnError(
      'image_mismatch',
      `${flags.image} is not ${name}'s active version ${version.version} (kiln push ${name} ${flags.image} again)`,
    );
  }
  const image = formatReference({ registry: ref.registry, repository: ref.repository, digest });
  const input = { spec: version.spec, image, namespace: flags.namespace };
  const objects: KubernetesObject[] = flags.knative ? [knativeService(input)] : kubernetesManifests(input);
  const text = objects.map((o) => stringify(o)).join('---\n');
  if (!flags.output) {
    process.stdout.write(text);
    return;
  }
  await mkdir(flags.output, { recursive: true });
  const file = path.join(flags.output, `${name}.yaml`);
  await writeFile(file, text);
  console.log(`wrote ${file}`);
}
