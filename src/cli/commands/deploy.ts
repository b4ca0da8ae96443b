import type { Command } from 'commander';
import { packDir } from '../../build/pack-dir.js';
import { pathExists } from '../../disk.js';
import { KilnError } from '../../errors.js';
import { deployFields } from '../../functions/deploy-fields.js';
import { parseVolumeFlag } from '../../functions/volume-mounts.js';
import { LANGUAGE_NAMES, LANGUAGES } from '../../languages/registry.js';
import { GatewayClient } from '../gateway-client.js';
import { repeatable } from '../repeatable.js';

interface DeployOptions {
  name?: string;
  runtime?: string;
  handler?: string;
  memory?: string;
  timeout?: string;
  env?: string[];
  secret?: string[];
  calls?: string;
  volume?: string[];
  eventFormat?: string;
  region?: string;
  image?: string;
  insecure?: boolean;
}

export function register(program: Command): void {
  program
    .command('deploy [dir]')
    .description(
      'deploy a function directory, or a pushed image with --image (a new version; the old one serves until it is ready)',
    )
    .option(
      '--image <ref>',
      'deploy a Kiln function image from a registry (REGISTRY/REPO:TAG) instead of a dir',
    )
    .option('--insecure', 'with --image: allow plain http to a registry that is not on loopback')
    .option('-n, --name <name>', 'function name (default: kiln.json name, else the dir name)')
    .option(
      '-r, --runtime <runtime>',
      `${LANGUAGE_NAMES.join(' | ')} (default: kiln.json's, else detected from the files)`,
    )
    .option(
      '--handler <handler>',
      LANGUAGES.map(
        (l) => `${l.name}: ${l.handler.form}${l.handler.default ? ` (default ${l.handler.default})` : ''}`,
      ).join('; '),
    )
    .option('-m, --memory <mb>', 'memory limit in MiB')
    .option('-t, --timeout <ms>', 'request timeout in ms')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', repeatable)
    .option('--secret <name>', 'a secret at /run/secrets/NAME (kiln secret create; repeatable)', repeatable)
    .option(
      '--calls <names>',
      'functions it may invoke through the gateway socket at $KILN_GATEWAY_SOCKET, comma-separated',
    )
    .option(
      '--volume <NAME:/path[:ro]>',
      'mount volume NAME (kiln volume create) at /path in every instance, read-only with :ro (repeatable)',
      repeatable,
    )
    .option(
      '--event-format <version>',
      'API Gateway payload format of Lambda-style handlers: 2.0 (HTTP API, default) or 1.0 (REST API)',
    )
    .option(
      '--region <region>',
      "AWS region the function reports (default: the gateway's KILN_REGION, else us-east-1)",
    )
    .action(deploy);
}

async function deploy(dir: string | undefined, options: DeployOptions): Promise<void> {
  const env: Record<string, string> = {};
  for (const pair of options.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new KilnError('invalid_env', `--env "${pair}" must be KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (options.image !== undefined) {
    if (dir !== undefined) throw new KilnError('invalid_arguments', 'give a directory or --image, not both');
    return deployImage(options.image, options, env);
  }
  if (dir === undefined)
    throw new KilnError('invalid_arguments', 'give a function directory, or --image REF');
  if (!(await pathExists(dir))) throw new KilnError('not_found', `no such directory: ${dir}`);
  const fields = await deployFields(dir, {
    name: options.name,
    runtime: options.runtime,
    handler: options.handler,
    memoryMb: options.memory,
    timeoutMs: options.timeout,
    env: Object.keys(env).length ? JSON.stringify(env) : undefined,
    secrets: options.secret?.length ? options.secret.join(',') : undefined,
    calls: options.calls,
    volumes: options.volume?.length ? JSON.stringify(options.volume.map(parseVolumeFlag)) : undefined,
    eventFormat: options.eventFormat,
    region: options.region,
  });
  const query = new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)]));
  const client = new GatewayClient();
  const started = Date.now();
  const result = await client.json<{
    function: { name: string };
    version: number;
    layer: string;
    layerReused: boolean;
    unchanged?: boolean;
  }>('POST', `/functions?${query}`, {
    body: await packDir(dir),
    headers: { 'content-type': 'application/gzip' },
  });
  if (result.unchanged) {
    console.log(
      `${result.function.name} unchanged: version ${result.version} already has these files and this spec (no new version)`,
    );
    return;
  }
  console.log(
    `deployed ${result.function.name} version ${result.version} in ${Date.now() - started} ms (layer ${result.layer.slice(0, 19)}${result.layerReused ? ', unchanged' : ''})`,
  );
  console.log(
    `invoke: kiln invoke ${result.function.name}   or   curl ${client.baseUrl}/fn/${result.function.name}/`,
  );
}

async function deployImage(
  image: string,
  options: DeployOptions,
  env: Record<string, string>,
): Promise<void> {
  const body: Record<string, unknown> = { image, insecure: options.insecure === true };
  if (options.name) body.name = options.name;
  if (options.memory) body.memoryMb = Number(options.memory);
  if (options.timeout) body.timeoutMs = Number(options.timeout);
  if (Object.keys(env).length) body.env = env;
  if (options.eventFormat) body.eventFormat = options.eventFormat;
  if (options.region) body.region = options.region;
  if (options.calls) body.calls = options.calls;
  if (options.secret?.length) body.secrets = options.secret;
  if (options.volume?.length) body.volumes = options.volume.map(parseVolumeFlag);
  const client = new GatewayClient();
  const started = Date.now();
  const result = await client.json<{ function: { name: string }; version: number }>('POST', '/functions', {
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  console.log(
    `deployed ${result.function.name} version ${result.version} from ${image} in ${Date.now() - started} ms`,
  );
  console.log(
    `invoke: kiln invoke ${result.function.name}   or   curl ${client.baseUrl}/fn/${result.function.name}/`,
  );
}
