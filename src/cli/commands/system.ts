import type { Command } from 'commander';
import type { UsageLine } from '../../image/disk-usage.js';
import { GatewayClient } from '../gateway-client.js';
import { printJson } from '../output.js';
import { formatBytes, formatTable } from '../table.js';

interface DfAnswer {
  images: UsageLine;
  snapshots: UsageLine;
  logs: { bytes: number };
  volumes: { count: number; bytes: number };
  reclaimableBytes: number;
}

export function register(program: Command): void {
  const system = program.command('system').description('the Kiln host: versions, counts, disk use');
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
      'disk use of images (blobs), snapshots, logs and volumes; reclaimable: what no image ref reaches',
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
}
