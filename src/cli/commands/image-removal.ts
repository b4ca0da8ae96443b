import type { Command } from 'commander';
import type { PruneReport } from '../../prune/image-pruner.js';
import type { SystemPruneReport } from '../../prune/system-prune.js';
import { GatewayClient } from '../gateway-client.js';
import { printJson } from '../output.js';
import { formatBytes } from '../table.js';

/** `kiln rmi` (`kiln image rm`) and `kiln image prune`; `kiln system prune` prints with `printSystemPrune`. */
export function register(program: Command): void {
  program
    .command('rmi')
    .description(
      'remove images (a ref, a digest or its first 12+ hex) and the content only they held; refused while a function version uses one',
    )
    .argument('<image...>')
    .option('--json', 'print JSON')
    .action(removeImages);
  const image = program.command('image').description("the gateway's image store: remove, prune");
  image
    .command('rm')
    .description('same as kiln rmi')
    .argument('<image...>')
    .option('--json', 'print JSON')
    .action(removeImages);
  image
    .command('prune')
    .description('remove blobs and snapshots no ref, function version or running container reaches')
    .option('-a, --all', 'also untag images no function uses (unused base images, builders, pulled images)')
    .option('--json', 'print JSON')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      const report = await new GatewayClient().json<PruneReport>(
        'POST',
        `/images/prune${options.all ? '?all=1' : ''}`,
      );
      if (options.json) return printJson(report);
      printImagePrune(report);
      console.log(`Total reclaimed space: ${formatBytes(report.freedBytes)}`);
    });
}

async function removeImages(names: string[], options: { json?: boolean }): Promise<void> {
  const client = new GatewayClient();
  const reports: (PruneReport & { image: string })[] = [];
  for (const name of names) {
    const report = await client.json<PruneReport & { image: string }>(
      'DELETE',
      `/images/${encodeURIComponent(name)}`,
    );
    reports.push(report);
    if (!options.json) printImagePrune(report);
  }
  if (options.json) printJson(reports);
}

function printImagePrune(report: PruneReport): void {
  for (const ref of report.untagged) console.log(`Untagged: ${ref}`);
  for (const blob of report.blobs) console.log(`Deleted: ${blob.digest}`);
  if (report.snapshots.length > 0) console.log(`Deleted snapshots: ${report.snapshots.length}`);
}

export function printSystemPrune(report: SystemPruneReport): void {
  printImagePrune(report.images);
  for (const fn of report.logs.functions) console.log(`Deleted logs of removed function: ${fn}`);
  const { ingestFiles, snapshotTemps } = report.debris;
  if (ingestFiles + snapshotTemps > 0)
    console.log(`Deleted debris: ${ingestFiles} ingest file(s), ${snapshotTemps} snapshot temp dir(s)`);
  console.log(`Total reclaimed space: ${formatBytes(report.freedBytes)}`);
}
