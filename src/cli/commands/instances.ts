import type { Command } from 'commander';
import type { StemCellInfo } from '../../pool/stem-cells.js';
import type { InstanceInfo } from '../../pool/warm-pool.js';
import { GatewayClient } from '../gateway-client.js';
import { formatBytes, formatDuration, formatTable } from '../table.js';

export function register(program: Command): void {
  program.command('ps').description('list running instances').action(ps);
  program.command('stop <instance...>').description('stop instances (busy ones finish first)').action(stop);
}

async function ps(): Promise<void> {
  const { instances, stemCells } = await new GatewayClient().json<{
    instances: InstanceInfo[];
    stemCells: StemCellInfo[];
  }>('GET', '/instances');
  const rows = instances.map((i) => [
    i.id,
    i.function,
    i.version,
    i.state,
    i.startedAs,
    formatDuration(i.uptimeMs),
    i.requests,
    formatBytes(i.memoryBytes),
  ]);
  for (const c of stemCells) {
    rows.push([
      c.id,
      `<stem ${c.language}>`,
      '-',
      'ready',
      'stem',
      formatDuration(c.uptimeMs),
      0,
      formatBytes(c.memoryBytes),
    ]);
  }
  console.log(
    formatTable(
      ['INSTANCE', 'FUNCTION', 'VERSION', 'STATE', 'STARTED', 'UPTIME', 'REQUESTS', 'MEMORY'],
      rows,
    ),
  );
}

async function stop(ids: string[]): Promise<void> {
  const client = new GatewayClient();
  for (const id of ids) {
    await client.json('DELETE', `/instances/${encodeURIComponent(id)}`);
    console.log(`stopped ${id}`);
  }
}
