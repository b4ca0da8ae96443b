import path from 'node:path';
import type { Command } from 'commander';
import type { FunctionRecord } from '../../functions/function-store.js';
import { GatewayClient, GatewayError } from '../gateway-client.js';
import { packDir } from '../pack-dir.js';
import { stackError } from '../stack/stack-file.js';
import { type LoadedFunction, loadStackFile, missingSecrets, missingVolumes } from '../stack/stack-loader.js';
import { runInDependencyOrder } from '../stack/stack-order.js';
import { type CurrentFunction, formatStep, planStack, type StackStep } from '../stack/stack-plan.js';

/** Deploys at once: the gateway builds one per core, and uploads overlap the builds. */
const PARALLEL_DEPLOYS = 3;

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
      const { steps, newVolumes } = await plan(options.file, Boolean(options.prune));
      const lines = [
        ...newVolumes.map((v) => `+ volume ${v}`),
        ...steps.map(formatStep).filter((l) => l !== undefined),
      ];
      for (const line of lines) console.log(line);
      process.exitCode = lines.length ? 1 : 0;
    });
}

async function plan(file: string, prune: boolean) {
  // The whole file is checked before the gateway is asked anything.
  const { functions: desired, volumes } = await loadStackFile(path.resolve(file));
  const client = new GatewayClient();
  const { secrets } = await client.json<{ secrets: { name: string }[] }>('GET', '/secrets');
  const missing = missingSecrets(desired, new Set(secrets.map((s) => s.name)));
  if (missing.length) throw stackError(missing);
  const existing = await client.json<{ volumes: { name: string }[] }>('GET', '/volumes');
  const newVolumes = missingVolumes(volumes, new Set(existing.volumes.map((v) => v.name)));
  const { functions } = await client.json<{ functions: { name: string }[] }>('GET', '/functions');
  const current: CurrentFunction[] = await Promise.all(
    functions.map(async ({ name }) => {
      const record = await client.json<FunctionRecord>('GET', `/functions/${encodeURIComponent(name)}`);
      const active = record.versions.find((v) => v.version === record.activeVersion)!;
      return {
        name,
        spec: active.spec,
        sourceDigest: active.sourceDigest,
        activeVersion: record.activeVersion,
        aliases: record.aliases,
      };
    }),
  );
  return { desired, client, newVolumes, steps: planStack(desired, current, { prune }) };
}

async function apply(file: string, prune: boolean): Promise<number> {
  const { desired, client, newVolumes, steps } = await plan(file, prune);
  // Volumes first: a deploy naming a missing one is refused. `--prune` never removes one (data).
  for (const name of newVolumes) {
    await client.json('POST', '/volumes', {
      body: JSON.stringify({ name }),
      headers: { 'content-type': 'application/json' },
    });
    console.log(`volume ${name}: created`);
  }
  const byName = new Map(desired.map((d) => [d.name, d]));
  const outcomes = await runInDependencyOrder(
    steps.map((step) => ({
      name: step.name,
      dependsOn: byName.get(step.name)?.dependsOn ?? [],
      run: () => report(step, byName.get(step.name), client),
    })),
    {
      concurrency: PARALLEL_DEPLOYS,
      onSkip: (name, failed) => console.log(`${name}: skipped: ${failed.join(', ')} failed`),
    },
  );
  return [...outcomes.values()].every(Boolean) ? 0 : 1;
}

/** Run one step and print its line: what was done and how long it took, or why it failed. */
async function report(
  step: StackStep,
  fn: LoadedFunction | undefined,
  client: GatewayClient,
): Promise<boolean> {
  const started = Date.now();
  try {
    const done = await run(step, fn, client);
    console.log(`${step.name}: ${done}${step.kind === 'unchanged' ? '' : ` (${Date.now() - started} ms)`}`);
    return true;
  } catch (err) {
    const code = err instanceof GatewayError ? ` [${err.code}]` : '';
    console.log(`${step.name}: failed: ${(err as Error).message}${code}`);
    return false;
  }
}

async function run(step: StackStep, fn: LoadedFunction | undefined, client: GatewayClient): Promise<string> {
  switch (step.kind) {
    case 'unchanged':
      return 'unchanged';
    case 'remove':
      await client.json('DELETE', `/functions/${encodeURIComponent(step.name)}`);
      return 'removed';
    default: {
      let version: number;
      let done: string;
      if (step.kind === 'update' && !step.redeploy) {
        version = step.activeVersion;
        done = `version ${version}`;
      } else {
        const result = await client.json<{ version: number; unchanged?: boolean }>(
          'POST',
          `/functions?${new URLSearchParams(fn!.query)}`,
          { body: await packDir(fn!.absDir), headers: { 'content-type': 'application/gzip' } },
        );
        version = result.version;
        done =
          step.kind === 'create'
            ? `created version ${version}`
            : `${result.unchanged ? 'unchanged at' : 'updated to'} version ${version}`;
      }
      for (const alias of fn!.aliases) {
        await client.json('PUT', `/functions/${encodeURIComponent(step.name)}/aliases/${alias}`, {
          body: JSON.stringify({ version }),
          headers: { 'content-type': 'application/json' },
        });
      }
      return step.kind === 'update' ? `${done} (${step.changes.join('; ')})` : done;
    }
  }
}
