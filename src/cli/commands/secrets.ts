import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { KilnError } from '../../errors.js';
import type { SecretInfo } from '../../secrets/secret-store.js';
import { GatewayClient } from '../gateway-client.js';
import { printJson } from '../output.js';
import { formatTable } from '../table.js';

export function register(program: Command): void {
  const secret = program
    .command('secret')
    .description('secrets: kept outside images and logs, seen by functions at /run/secrets/NAME');
  secret
    .command('create <name> [file]')
    .description('create a secret from FILE, or from stdin when FILE is - or absent (docker secret create)')
    .option('--json', 'print JSON')
    .action(async (name: string, file: string | undefined, options: { json?: boolean }) => {
      const value = file === undefined || file === '-' ? await readStdin() : await readFile(file);
      if (value.length === 0)
        throw new KilnError('empty_secret', `secret "${name}" has no value (stdin was empty)`);
      const info = await new GatewayClient().json<SecretInfo>('POST', '/secrets', {
        body: JSON.stringify({ name, data: value.toString('base64') }),
        headers: { 'content-type': 'application/json' },
      });
      if (options.json) printJson(info);
      else console.log(info.name);
    });
  secret
    .command('ls')
    .description('list secrets (names and sizes; never values)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const answer = await new GatewayClient().json<{ secrets: SecretInfo[] }>('GET', '/secrets');
      if (options.json) return printJson(answer);
      console.log(
        formatTable(
          ['NAME', 'SIZE', 'CREATED'],
          answer.secrets.map((s) => [s.name, `${s.size} B`, s.createdAt]),
        ),
      );
    });
  secret
    .command('inspect <name>')
    .description('a secret: its size, when it was made and which functions use it (never its value)')
    .action(async (name: string) => {
      printJson(await new GatewayClient().json('GET', `/secrets/${encodeURIComponent(name)}`));
    });
  secret
    .command('rm <name>')
    .description('remove a secret (refused while a function uses it)')
    .action(async (name: string) => {
      await new GatewayClient().json('DELETE', `/secrets/${encodeURIComponent(name)}`);
      console.log(name);
    });
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
