import type { Command } from 'commander';
import { REF_NAME } from '../../image/types.js';
import { openLocalImages } from '../local-images.js';
import { printJson } from '../output.js';
import { formatBytes, formatTable } from '../table.js';

interface ImageRow {
  name: string;
  digest: string;
  /** The manifest's layers and config, as stored (a pulled or loaded image's compressed sizes). */
  size: number;
  created?: string;
}

export function register(program: Command): void {
  program
    .command('images')
    .description(
      'list the images in the local image store by name (functions as fn/NAME:VERSION, base images, pulled and loaded ones)',
    )
    .option('--json', 'print JSON')
    .action(images);
}

async function images(options: { json?: boolean }): Promise<void> {
  const { images: store } = await openLocalImages();
  const index = await store.readIndex();
  const rows: ImageRow[] = [];
  for (const entry of index.manifests) {
    const name = entry.annotations?.[REF_NAME];
    if (!name) continue;
    const image = await store.getImage(entry.digest);
    const size = [image.manifest.config, ...image.manifest.layers].reduce((n, d) => n + d.size, 0);
    rows.push({ name, digest: entry.digest, size, created: image.config.created });
  }
  rows.sort((a, b) => a.name.localeCompare(b.name));
  if (options.json) return printJson(rows);
  console.log(
    formatTable(
      ['NAME', 'DIGEST', 'SIZE', 'CREATED'],
      rows.map((r) => [r.name, r.digest.slice(7, 19), formatBytes(r.size), r.created ?? '-']),
    ),
  );
}
