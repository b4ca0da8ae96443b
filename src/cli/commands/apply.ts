import path from 'node:path';
import type { Command } from 'commander';
import { packDir } from '../../build/pack-dir.js';
import type { FunctionRecord } from '../../functions/function-store.js';
import { applyStack, type StackTarget } from '../../stack/stack-apply.js';
import { loadStackFile, planAgainst, planLines } from '../../stack/stack-loader.js';
import { GatewayClient } from '../gateway-client.js';

export function register(program: Command): void {
  program
    .command('apply')
    .description('deploy the functions of a stack file that changed (source or spec), in parallel')
    .option('-f, --file <file>', 'the stack file', 'kiln.yaml')
    .option('--prune', 'remove functions the file does not name')
    .action(async (options: { file: string; prune?: boolean }) => {
      process.exitCode = await apply(options.file, Boolean(options.prune));
    });
  program
    .command('diff')
    .description(
      'show what `kiln apply` would do: + create, ~ update, - remove (--prune); exit 1 if anything',
    )
    .option('-f, --file <file>', 'the stack file', 'kiln.yaml')
    .option('--prune', 'include removals of functions the file does not name')
    .action(async (options: { file: string; prune?: boolean }) => {
      const lines = planLines((await plan(options.file, Boolean(options.prune))).plan);
      for (const line of lines) console.log(line);
      process.exitCode = lines.length ? 1 : 0;
    });
}

async function plan(file: string, prune: boolean) {
  // The whole file is checked before the gateway is asked anything.
  const stack = await loadStackFile(path.resolve(file));
  const client = new GatewayClient();
  const { secrets } = await client.json<{ secrets: { name: string }[] }>('GET', '/secrets');
  const { volumes } = await client.json<{ volumes: { name: string }[] }>('GET', '/volumes');
  const { functions } = await client.json<{ functions: { name: string }[] }>('GET', '/functions');
  const records = await Promise.all(
    functions.map(({ name }) => client.json<FunctionRecord>('GET', `/functions/${encodeURIComponent(name)}`)),
  );
  const state = {
    secrets: new Set(secrets.map((s) => s.name)),
    volumes: new Set(volumes.map((v) => v.name)),
    functions: records,
  };
  return { stack, client, plan: planAgainst(stack, state, { prune }) };
}

async function apply(file: string, prune: boolean): Promise<number> {
  const { stack, client, plan: steps } = await plan(file, prune);
  const outcomes = await applyStack(steps, stack.functions, overHttp(client), (o) => console.log(o.line));
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

/** The gateway's API as a stack's target: what `kiln volume create`, `deploy`, `alias set` and `rm` send. */
function overHttp(client: GatewayClient): StackTarget {
  return {
    createVolume: async (name) => {
      await client.json('POST', '/volumes', {
        body: JSON.stringify({ name }),
        headers: { 'content-type': 'application/json' },
      });
    },
    deploy: async (fn) =>
      client.json<{ version: number; unchanged?: boolean }>(
        'POST',
        `/functions?${new URLSearchParams(fn.query)}`,
        {
          body: await packDir(fn.absDir),
          headers: { 'content-type': 'application/gzip' },
        },
      ),
    setAlias: async (name, alias, version) => {
      await client.json('PUT', `/functions/${encodeURIComponent(name)}/aliases/${alias}`, {
        body: JSON.stringify({ version }),
        headers: { 'content-type': 'application/json' },
      });
    },
    remove: async (name) => {
      await client.json('DELETE', `/functions/${encodeURIComponent(name)}`);
    },
  };
}
