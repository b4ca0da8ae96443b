import type { Command } from 'commander';
import { KilnError } from '../../errors.js';
import type { FunctionVersion } from '../../functions/function-store.js';
import { parseVolumeFlag } from '../../functions/volume-mounts.js';
import { GatewayClient } from '../gateway-client.js';
import { printJson } from '../output.js';
import { repeatable } from '../repeatable.js';
import { formatTable } from '../table.js';

interface VersionsAnswer {
  active: number;
  versions: FunctionVersion[];
  aliases: Record<string, number>;
}

interface ActivationAnswer {
  function: string;
  version: number;
  previous: number;
  unchanged: boolean;
}

const fnPath = (name: string) => `/functions/${encodeURIComponent(name)}`;

export function register(program: Command): void {
  program
    .command('versions <name>')
    .description("list a function's versions (* marks the active one) and the aliases naming them")
    .option('--json', 'print JSON')
    .action(versions);
  program
    .command('rollback <name> [version]')
    .description(
      'make an earlier version active at once, without a build (default: the one before the active)',
    )
    .option('--json', 'print JSON')
    .action(rollback);
  program
    .command('update <name>')
    .description('change limits or env: a new version from the same image (no build)')
    .option('-m, --memory <mb>', 'memory limit in MiB')
    .option('--cpus <n>', 'CPU quota in cores')
    .option('-t, --timeout <ms>', 'request timeout in ms')
    .option('--concurrency <n>', 'requests one instance serves at once')
    .option('--min <n>', 'instances kept running (minInstances)')
    .option('--max <n>', 'instances at most (maxInstances)')
    .option('--max-queue <n>', 'requests waiting at most')
    .option('--idle-ttl <ms>', 'idle time before an instance stops')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', repeatable)
    .option('--unset-env <KEY>', 'remove an environment variable (repeatable)', repeatable)
    .option('--secrets <names>', 'the secrets it mounts, comma-separated (replaces the list; "" for none)')
    .option(
      '--calls <names>',
      'the functions it may invoke, comma-separated (replaces the list; "" for none)',
    )
    .option(
      '--volumes <mounts>',
      'the volumes it mounts, NAME:/path[:ro] comma-separated (replaces the list; "" for none)',
    )
    .option('--json', 'print JSON')
    .action(update);
  const alias = program
    .command('alias')
    .description('name versions: NAME@ALIAS invokes the version ALIAS points at');
  alias
    .command('set <name> <alias> <version>')
    .description('point ALIAS at VERSION (made if new)')
    .option('--json', 'print JSON')
    .action(async (name: string, aliasName: string, version: string, options: { json?: boolean }) => {
      const answer = await new GatewayClient().json<{ alias: string; version: number }>(
        'PUT',
        `${fnPath(name)}/aliases/${encodeURIComponent(aliasName)}`,
        {
          body: JSON.stringify({ version: Number(version) }),
          headers: { 'content-type': 'application/json' },
        },
      );
      if (options.json) printJson(answer);
      else console.log(`${name}@${answer.alias} → version ${answer.version}`);
    });
  alias
    .command('ls <name>')
    .description("list a function's aliases")
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const answer = await new GatewayClient().json<{ aliases: { name: string; version: number }[] }>(
        'GET',
        `${fnPath(name)}/aliases`,
      );
      if (options.json) printJson(answer);
      else
        console.log(
          formatTable(
            ['ALIAS', 'VERSION'],
            answer.aliases.map((a) => [a.name, a.version]),
          ),
        );
    });
  alias
    .command('rm <name> <alias>')
    .description('remove an alias')
    .action(async (name: string, aliasName: string) => {
      await new GatewayClient().json('DELETE', `${fnPath(name)}/aliases/${encodeURIComponent(aliasName)}`);
      console.log(`removed ${name}@${aliasName}`);
    });
}

async function versions(name: string, options: { json?: boolean }): Promise<void> {
  const answer = await new GatewayClient().json<VersionsAnswer>('GET', `${fnPath(name)}/versions`);
  if (options.json) return printJson(answer);
  const aliasesOf = (v: number) =>
    Object.entries(answer.aliases)
      .filter(([, target]) => target === v)
      .map(([a]) => a)
      .join(',');
  console.log(
    formatTable(
      ['VERSION', 'CREATED', 'IMAGE', 'SOURCE', 'MEMORY', 'ALIASES'],
      answer.versions.map((v) => [
        `${v.version}${v.version === answer.active ? ' *' : ''}`,
        v.createdAt,
        v.image.slice(7, 19),
        v.sourceDigest?.slice(7, 19) ?? '-',
        `${v.spec.memoryMb} MiB`,
        aliasesOf(v.version) || '-',
      ]),
    ),
  );
}

async function rollback(
  name: string,
  version: string | undefined,
  options: { json?: boolean },
): Promise<void> {
  const answer = await new GatewayClient().json<ActivationAnswer>('POST', `${fnPath(name)}/rollback`, {
    body: JSON.stringify(version === undefined ? {} : { version: Number(version) }),
    headers: { 'content-type': 'application/json' },
  });
  if (options.json) return printJson(answer);
  console.log(
    answer.unchanged
      ? `${name} version ${answer.version} is active already`
      : `${name}: version ${answer.version} active (was ${answer.previous})`,
  );
}

interface UpdateOptions {
  memory?: string;
  cpus?: string;
  timeout?: string;
  concurrency?: string;
  min?: string;
  max?: string;
  maxQueue?: string;
  idleTtl?: string;
  env?: string[];
  unsetEnv?: string[];
  secrets?: string;
  calls?: string;
  volumes?: string;
  json?: boolean;
}

async function update(name: string, options: UpdateOptions): Promise<void> {
  const patch: Record<string, unknown> = {};
  const numbers: [keyof UpdateOptions, string][] = [
    ['memory', 'memoryMb'],
    ['cpus', 'cpus'],
    ['timeout', 'timeoutMs'],
    ['concurrency', 'concurrency'],
    ['min', 'minInstances'],
    ['max', 'maxInstances'],
    ['maxQueue', 'maxQueue'],
    ['idleTtl', 'idleTtlMs'],
  ];
  for (const [flag, field] of numbers) if (options[flag] !== undefined) patch[field] = Number(options[flag]);
  const env: Record<string, string | null> = {};
  for (const pair of options.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new KilnError('invalid_env', `--env "${pair}" must be KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  for (const key of options.unsetEnv ?? []) env[key] = null;
  if (Object.keys(env).length) patch.env = env;
  if (options.secrets !== undefined)
    patch.secrets = options.secrets.trim() === '' ? null : options.secrets.split(',').map((n) => n.trim());
  if (options.calls !== undefined)
    patch.calls = options.calls.trim() === '' ? null : options.calls.split(',').map((n) => n.trim());
  if (options.volumes !== undefined)
    patch.volumes =
      options.volumes.trim() === '' ? null : options.volumes.split(',').map((m) => parseVolumeFlag(m.trim()));
  if (Object.keys(patch).length === 0)
    throw new KilnError(
      'nothing_to_update',
      'name a change: --memory, --timeout, --env KEY=VALUE, … (kiln update --help)',
    );
  const answer = await new GatewayClient().json<ActivationAnswer>('PATCH', fnPath(name), {
    body: JSON.stringify(patch),
    headers: { 'content-type': 'application/merge-patch+json' },
  });
  if (options.json) return printJson(answer);
  console.log(
    answer.unchanged
      ? `${name} unchanged: version ${answer.version} has that config already`
      : `${name}: version ${answer.version} active (config of ${answer.previous} updated, same image)`,
  );
}
