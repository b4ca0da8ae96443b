import type { Command } from 'commander';
import type { LogRecord } from '../../logs/log-store.js';
import { GatewayClient } from '../gateway-client.js';
import { ndjsonLines } from '../ndjson-lines.js';

interface LogsOptions {
  follow?: boolean;
  tail?: string;
  since?: string;
  request?: string;
  timestamps?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('logs <name>')
    .description("print a function's logs (stdout and stderr of its instances, kept across restarts)")
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('-n, --tail <n>', 'only the last N lines')
    .option('--since <when>', 'only lines since: a duration (10m, 1h30m), an ISO time or epoch ms')
    .option('--request <id>', 'only the lines of one request (its x-kiln-request-id)')
    .option('-t, --timestamps', 'prefix each line with when the gateway read it')
    .option(
      '--json',
      'print each record as JSON (time, function, version, instance, requestId, stream, line)',
    )
    .action(logs);
}

async function logs(name: string, options: LogsOptions): Promise<void> {
  const query = new URLSearchParams();
  if (options.follow) query.set('follow', '1');
  if (options.tail !== undefined) query.set('tail', options.tail);
  if (options.since !== undefined) query.set('since', options.since);
  if (options.request !== undefined) query.set('request', options.request);
  const client = new GatewayClient();
  const res = await client.request('GET', `/functions/${encodeURIComponent(name)}/logs?${query}`);
  if (!res.ok || !res.body) await client.fail(res);
  const print = (text: string) => {
    if (!text) return;
    if (options.json) return void process.stdout.write(`${text}\n`);
    const record = JSON.parse(text) as LogRecord;
    process.stdout.write(options.timestamps ? `${record.time} ${record.line}\n` : `${record.line}\n`);
  };
  for await (const line of ndjsonLines(res.body as AsyncIterable<Uint8Array>)) print(line);
}
