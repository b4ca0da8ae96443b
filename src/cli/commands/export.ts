import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../../disk.js';
import { KilnError } from '../../errors.js';
import { applyToCluster } from '../../export/kubernetes-apply.js';
import {
  type KubernetesObject,
  knativeService,
  kubernetesManifests,
  secretObject,
  volumeClaims,
} from '../../export/kubernetes-manifests.js';
import { pushedImageOf } from '../../export/pushed-image.js';
import { FunctionStore, type FunctionVersion } from '../../functions/function-store.js';
import { SecretStore } from '../../secrets/secret-store.js';
import { currentOf, loadStack } from '../../stack/stack-loader.js';
import { planStack } from '../../stack/stack-plan.js';
import { openLocalImages } from '../local-images.js';

interface ExportFlags {
  all?: boolean;
  file?: string;
  image?: string;
  registry?: string;
  namespace?: string;
  knative?: boolean;
  output?: string;
  apply?: boolean;
  kubeconfig?: string;
  context?: string;
  forceConflicts?: boolean;
}

export function register(program: Command): void {
  const exporter = program.command('export').description('write what runs a function elsewhere');
  exporter
    .command('k8s [name]')
    .description(
      "Kubernetes manifests (Deployment, Service, HorizontalPodAutoscaler; --knative: a Knative Service) for functions' pushed images: NAME, --all, or the functions of a stack file (-f)",
    )
    .option('--all', 'every function in the data dir (the gateway’s), each with its active version')
    .option('-f, --file <file>', 'the functions a stack file (kiln.yaml) names, as kiln apply left them')
    .option(
      '--image <ref>',
      'where NAME was pushed (REGISTRY/REPO:TAG as given to kiln push, or @sha256:…): the manifests pin its digest',
    )
    .option(
      '--registry <prefix>',
      'find each image among those kiln push sent under REGISTRY[/PATH] (default: wherever the active version was pushed, when that is one place)',
    )
    .option('-n, --namespace <ns>', 'the namespace of every object')
    .option('--knative', 'a Knative Service (scale to zero) instead')
    .option('-o, --output <dir>', 'write one NAME.yaml per function into this dir instead of stdout')
    .option(
      '--apply',
      "apply them to the kubeconfig's cluster instead (server-side apply, field manager kiln), with a Secret per Kiln secret the functions name",
    )
    .option('--kubeconfig <file>', 'with --apply: this kubeconfig (default: KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'with --apply: this context of the kubeconfig, not its current one')
    .option('--force-conflicts', 'with --apply: take fields another field manager owns')
    .action(exportK8s);
}

/** What to export: one function's name and active version. */
interface Selected {
  name: string;
  version: FunctionVersion;
}

async function exportK8s(name: string | undefined, flags: ExportFlags): Promise<void> {
  const ways = [name !== undefined, Boolean(flags.all), flags.file !== undefined].filter(Boolean).length;
  if (ways !== 1) {
    throw new KilnError('invalid_arguments', 'name one function, or --all, or -f STACK_FILE (one of them)');
  }
  if (flags.apply && flags.output) {
    throw new KilnError(
      'invalid_arguments',
      '--apply sends the objects to the cluster: -o is for writing them',
    );
  }
  if (!flags.apply && (flags.kubeconfig || flags.context || flags.forceConflicts)) {
    throw new KilnError('invalid_arguments', '--kubeconfig, --context and --force-conflicts go with --apply');
  }
  if (flags.image && name === undefined) {
    throw new KilnError(
      'invalid_arguments',
      '--image names one function’s image: with --all or -f, use --registry',
    );
  }
  const { data, images } = await openLocalImages();
  const functions = new FunctionStore(data.functions);
  await functions.load();
  const selected =
    name !== undefined
      ? [{ name, version: functions.active(name) }]
      : flags.all
        ? allFunctions(functions)
        : await stackFunctions(flags.file!, functions);

  const exported: { name: string; objects: KubernetesObject[] }[] = [];
  // On stdout (and to a cluster) a volume two functions mount is claimed once; each file of -o has its own claims.
  const claimed = new Set<string>();
  for (const { name: fn, version } of selected) {
    const image = await pushedImageOf(images, fn, version, { image: flags.image, registry: flags.registry });
    const input = { spec: version.spec, image, namespace: flags.namespace };
    const claims = volumeClaims(input).filter((c) => flags.output || !claimed.has(c.metadata.name));
    for (const c of claims) claimed.add(c.metadata.name);
    exported.push({
      name: fn,
      objects: [...claims, ...(flags.knative ? [knativeService(input)] : kubernetesManifests(input))],
    });
  }
  if (flags.apply) {
    const secretNames = [...new Set(selected.flatMap((s) => s.version.spec.secrets ?? []))].sort();
    const secrets = new SecretStore(data.secrets);
    const secretObjects = [];
    // Every value is read before anything is applied: a missing one stops it all.
    for (const secret of secretNames) {
      secretObjects.push(secretObject(secret, await secrets.read(secret), flags.namespace));
    }
    await applyToCluster(
      [...secretObjects, ...exported.flatMap((e) => e.objects)],
      { kubeconfig: flags.kubeconfig, context: flags.context, forceConflicts: flags.forceConflicts },
      (o) =>
        console.log(
          `applied ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`,
        ),
    );
    return;
  }
  const documents = exported.map((e) => ({
    name: e.name,
    text: e.objects.map((o) => stringify(o)).join('---\n'),
  }));
  if (!flags.output) {
    process.stdout.write(documents.map((d) => d.text).join('---\n'));
    return;
  }
  await mkdir(flags.output, { recursive: true });
  for (const { name: fn, text } of documents) {
    const file = path.join(flags.output, `${fn}.yaml`);
    await writeFileAtomic(file, text);
    console.log(`wrote ${file}`);
  }
}

function allFunctions(functions: FunctionStore): Selected[] {
  const records = functions.list().sort((a, b) => a.name.localeCompare(b.name));
  if (records.length === 0)
    throw new KilnError('function_not_found', 'no functions are deployed (kiln deploy DIR)', 404);
  return records.map((r) => ({ name: r.name, version: functions.version(r, r.activeVersion) }));
}

/**
 * The stack's functions, each as its active version, when that is what the file says:
 * `kiln apply`'s plan against the local records must change nothing but aliases, else the
 * pushed images would not be what the file describes.
 */
async function stackFunctions(file: string, functions: FunctionStore): Promise<Selected[]> {
  const desired = await loadStack(path.resolve(file));
  const behind = planStack(desired, functions.list().map(currentOf), { prune: false }).flatMap((step) =>
    step.kind === 'create'
      ? [`${step.name} is not deployed`]
      : step.kind === 'update' && step.redeploy
        ? [`${step.name} differs from its active version (${step.changes.join('; ')})`]
        : [],
  );
  if (behind.length) {
    throw new KilnError('stack_not_applied', `${behind.join('; ')}: kiln apply -f ${file} first`);
  }
  return desired.map((d) => ({ name: d.name, version: functions.active(d.name) }));
}
