import type { Command } from 'commander';
import { KilnError } from '../../errors.js';
import { GatewayClient } from '../gateway-client.js';
import { type PromSample, parsePrometheusText } from '../prometheus-text.js';
import { formatTable } from '../table.js';
import { topRows, topTable } from '../top-view.js';

export function register(program: Command): void {
  program
    .command('top')
    .description(
      "a live view of each function: req/s, errors/s, p50/p99, cold and stem starts, instances (from the gateway's /metrics)",
    )
    .option('--interval <ms>', 'refresh every this many ms', '1000')
    .option('-n, --iterations <n>', 'stop after this many refreshes (default: until interrupted)')
    .action(top);
}

async function top(options: { interval: string; iterations?: string }): Promise<void> {
  const interval = Number(options.interval);
  if (!Number.isInteger(interval) || interval < 100)
    throw new KilnError(
      'invalid_option',
      `--interval must be a whole number of ms, at least 100, got "${options.interval}"`,
    );
  const iterations = options.iterations === undefined ? Infinity : Number(options.iterations);
  if (!(iterations >= 1) || (iterations !== Infinity && !Number.isInteger(iterations)))
    throw new KilnError(
      'invalid_option',
      `--iterations must be a whole number, at least 1, got "${options.iterations}"`,
    );
  const client = new GatewayClient();
  // A terminal gets the screen redrawn in place; a pipe or file gets one plain table per refresh.
  const tty = process.stdout.isTTY === true;
  let before = await scrape(client);
  let at = performance.now();
  for (let i = 0; i < iterations; i++) {
    await new Promise((resolve) => setTimeout(resolve, interval));
    const now = await scrape(client);
    const end = performance.now();
    const { header, cells } = topTable(topRows(before, now, (end - at) / 1000));
    const table = formatTable(header, cells);
    const stamp = new Date().toISOString().slice(11, 19);
    if (tty) process.stdout.write(`\x1b[H\x1b[2J${stamp} kiln top (${client.baseUrl})\n\n${table}\n`);
    else process.stdout.write(`${i > 0 ? '\n' : ''}${stamp}\n${table}\n`);
    before = now;
    at = end;
  }
}

async function scrape(client: GatewayClient): Promise<PromSample[]> {
  const res = await client.request('GET', '/metrics');
  if (!res.ok) return client.fail(res);
  return parsePrometheusText(await res.text());
}
