import type { Command } from 'commander';
import { GatewayClient } from '../gateway-client.js';
import { printJson } from '../output.js';
import { formatTable } from '../table.js';

export function register(program: Command): void {
  program
    .command('ls')
    .description('list functions')
    .option('--json', 'print JSON (GET /functions)')
    .action(list);
  program.command('rm <name>').description('remove a function and stop its instances').action(remove);
}

async function list(options: { json?: boolean }): Promise<void> {
  const answer = await new GatewayClient().json<{
    functions: { name: string; runtime: string; version: number; memoryMb: number; updatedAt: string }[];
  }>('GET', '/functions');
  if (options.json) return printJson(answer);
  const { functions } = answer;
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
