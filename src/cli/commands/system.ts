import type { Command } from 'commander';
import type { UsageLine } from '../../image/disk-usage.js';
import type { SystemPruneReport } from '../../prune/system-prune.js';
import { GatewayClient } from '../gateway-client.js';
import { printJson } from '../output.js';
import { formatBytes, formatTable } from '../table.js';
import { printSystemPrune } from './image-removal.js';

interface DfAnswer {
  images: UsageLine;
  snapshots: UsageLine;
  logs: { bytes: number };
  volumes: { count: number; bytes: number };
  reclaimableBytes: number;
}

export function register(program: Command): void {
  const system = program.command('system').description('the Kiln host: versions, counts, disk use, prune');
  system
    .command('info')
    .description('versions (Kiln, node, OCI runtime), cgroup mode, data dir, counts')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const info = await new GatewayClient().json<Record<string, string | number>>('GET', '/system/info');
      if (options.json) return printJson(info);
      for (const [k, v] of Object.entries(info)) console.log(`${`${k}:`.padEnd(12)} ${v}`);
    });
  system
    .command('df')
    .description(
      'disk use of images (blobs), snapshots, logs and volumes; reclaimable: what kiln image prune removes',
    )
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const df = await new GatewayClient().json<DfAnswer>('GET', '/system/df');
      if (options.json) return printJson(df);
      const row = (kind: string, u: UsageLine) => [
        kind,
        u.count,
        formatBytes(u.bytes),
        `${formatBytes(u.reclaimableBytes)} (${u.reclaimableCount})`,
      ];
      console.log(
        formatTable(
          ['TYPE', 'COUNT', 'SIZE', 'RECLAIMABLE'],
          [
            row('blobs', df.images),
            row('snapshots', df.snapshots),
            ['logs', '-', formatBytes(df.logs.bytes), '-'],
            ['volumes', df.volumes.count, formatBytes(df.volumes.bytes), '-'],
          ],
        ),
      );
    });
  system
    .command('prune')
    .description('image prune, then logs of functions that are gone and what dead writers left')
    .option('-a, --all', 'also untag images no function uses (unused base images, builders, pulled images)')
    .option('--json', 'print JSON')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      const report = await new GatewayClient().json<SystemPruneReport>(
        'POST',
        `/system/prune${options.all ? '?all=1' : ''}`,
      );
      if (options.json) return printJson(report);
      printSystemPrune(report);
    });
}
