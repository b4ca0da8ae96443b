import type { Command } from 'commander';
import { FunctionStore } from '../../functions/function-store.js';
import { SnapshotStore } from '../../image/snapshot-store.js';
import { ImagePruner } from '../../prune/image-pruner.js';
import { openLocalImages } from '../local-images.js';
import { printJson } from '../output.js';
import { formatBytes, formatTable } from '../table.js';

export function register(program: Command): void {
  program
    .command('images')
    .description(
      'list the images in the local image store by name (functions as fn/NAME:VERSION, base images, pulled and loaded ones) and the functions that use each',
    )
    .option('--json', 'print JSON')
    .action(images);
}

/** Local, like the other image commands: the data dir's store and function records, no gateway. */
async function images(options: { json?: boolean }): Promise<void> {
  const { data, images: store } = await openLocalImages();
  const functions = new FunctionStore(data.functions);
  await functions.load();
  // Only listing: no running containers are known here, and nothing is swept.
  const lister = new ImagePruner(
    functions,
    store,
    new SnapshotStore(data.snapshots),
    async () => ({ instances: [], layers: [] }),
    () => [],
  );
  const rows = await lister.list();
  if (options.json) return printJson(rows);
  console.log(
    formatTable(
      ['NAME', 'DIGEST', 'SIZE', 'CREATED', 'USED BY'],
      rows.map((r) => [
        r.name,
        r.digest.slice(7, 19),
        formatBytes(r.size),
        r.created ?? '-',
        r.usedBy.map((u) => `${u.function}@${u.versions.join(',')}`).join(' ') || '-',
      ]),
    ),
  );
}
