import type { Command } from 'commander';
import { formatVolumeMount } from '../../functions/volume-mounts.js';
import type { FunctionInspection } from '../../inspect/function-inspection.js';
import { GatewayClient } from '../gateway-client.js';
import { printJson } from '../output.js';
import { formatBytes, formatTable } from '../table.js';

export function register(program: Command): void {
  program
    .command('inspect <name>')
    .description(
      'a function: its spec, versions, aliases, image and layers (secrets by name; their values never)',
    )
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const fn = await new GatewayClient().json<FunctionInspection>(
        'GET',
        `/functions/${encodeURIComponent(name)}/inspect`,
      );
      if (options.json) return printJson(fn);
      printInspection(fn);
    });
}

function printInspection(fn: FunctionInspection): void {
  const aliases = Object.entries(fn.aliases).map(([a, v]) => `${a} → ${v}`);
  const { spec } = fn;
  const lines: [string, string][] = [
    ['Name', fn.name],
    ['Runtime', fn.runtime],
    ['Active', String(fn.activeVersion)],
    ['Aliases', aliases.join(', ') || '-'],
    ['Handler', spec.handler ?? '(default)'],
    [
      'Limits',
      `${spec.memoryMb} MiB, ${spec.cpus ?? 1} cpu, ${spec.pids} pids, timeout ${spec.timeoutMs} ms`,
    ],
    [
      'Scaling',
      `concurrency ${spec.concurrency}, instances ${spec.minInstances}–${spec.maxInstances}, queue ${spec.maxQueue}`,
    ],
    ['Env', Object.keys(spec.env).join(', ') || '-'],
    ['Secrets', fn.secrets.length ? `${fn.secrets.join(', ')} (at /run/secrets/NAME)` : '-'],
    ['Volumes', (spec.volumes ?? []).map(formatVolumeMount).join(', ') || '-'],
    ['Image', `${fn.image.digest} (${formatBytes(fn.image.size)})`],
    ['Created', fn.createdAt],
    ['Updated', fn.updatedAt],
  ];
  for (const [k, v] of lines) console.log(`${`${k}:`.padEnd(10)} ${v}`);
  console.log('\nLayers:');
  console.log(
    formatTable(
      ['KIND', 'DIGEST', 'SIZE', 'CREATED BY'],
      fn.image.layers.map((l) => [l.kind, l.digest.slice(7, 19), formatBytes(l.size), l.createdBy ?? '-']),
    ),
  );
  console.log('\nVersions:');
  console.log(
    formatTable(
      ['VERSION', 'IMAGE', 'CREATED', 'ALIASES'],
      fn.versions.map((v) => [
        `${v.version}${v.active ? ' *' : ''}`,
        v.image.slice(7, 19),
        v.createdAt,
        v.aliases.join(', ') || '-',
      ]),
    ),
  );
}
