import type { Command } from 'commander';
import type { VolumeInfo } from '../../volumes/volume-store.js';
import { GatewayClient } from '../gateway-client.js';
import { printJson } from '../output.js';
import { formatBytes, formatTable } from '../table.js';

type ListedVolume = VolumeInfo & { usedBy: string[] };

const volumePath = (name: string) => `/volumes/${encodeURIComponent(name)}`;

export function register(program: Command): void {
  const volume = program
    .command('volume')
    .description(
      'named volumes: data that outlives instances and versions (kiln deploy --volume NAME:/path)',
    );
  volume
    .command('create <name>')
    .description('create an empty volume (docker volume create)')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const info = await new GatewayClient().json<VolumeInfo>('POST', '/volumes', {
        body: JSON.stringify({ name }),
        headers: { 'content-type': 'application/json' },
      });
      if (options.json) printJson(info);
      else console.log(info.name);
    });
  volume
    .command('ls')
    .description('list volumes: size and the functions that mount them')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const answer = await new GatewayClient().json<{ volumes: ListedVolume[] }>('GET', '/volumes');
      if (options.json) return printJson(answer);
      console.log(
        formatTable(
          ['NAME', 'SIZE', 'CREATED', 'USED BY'],
          answer.volumes.map((v) => [
            v.name,
            formatBytes(v.sizeBytes),
            v.createdAt,
            v.usedBy.join(',') || '-',
          ]),
        ),
      );
    });
  volume
    .command('inspect <name>')
    .description(
      'a volume: size, when it was made, the functions that mount it and the instances that have it mounted',
    )
    .action(async (name: string) => {
      printJson(await new GatewayClient().json('GET', volumePath(name)));
    });
  volume
    .command('rm <name>')
    .description(
      "remove a volume and its data (refused while a function's active or aliased version or a running instance uses it)",
    )
    .action(async (name: string) => {
      await new GatewayClient().json('DELETE', volumePath(name));
      console.log(name);
    });
}
