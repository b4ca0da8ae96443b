import type { Command } from 'commander';
import { GatewayClient } from '../gateway-client.js';
import { formatTable } from '../table.js';

export function register(program: Command): void {
  program.command('ls').description('list functions').action(list);
  program.command('rm <name>').description('remove a function and stop its instances').action(remove);
}

async function list(): Promise<void> {
  const { functions } = await new GatewayClient().json<{
    functions: { name: string; runtime: string; version: number; memoryMb: number; updatedAt: string }[];
  }>('GET', '/functions');
  console.log(
    formatTable(
      ['NAME', 'RUNTIME', 'VERSION', 'MEMORY', 'UPDATED'],
      functions.map((f) => [f.name, f.runtime, f.version, `${f.memoryMb} MiB`, f.updatedAt]),
    ),
  );
}

async function remove(name: string): Promise<void> {
  await new GatewayClient().json('DELETE', `/functions/${encodeURIComponent(name)}`);
  console.log(`removed ${name}`);
}
