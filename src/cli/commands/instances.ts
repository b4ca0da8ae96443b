import { constants as osConstants } from 'node:os';
import type { Command } from 'commander';
import type { StemCellInfo } from '../../pool/stem-cells.js';
import type { InstanceInfo } from '../../pool/warm-pool.js';
import { GatewayClient, GatewayError } from '../gateway-client.js';
import { statsBetween } from '../instance-stats.js';
import { ndjsonLines } from '../ndjson-lines.js';
import { printJson } from '../output.js';
import { formatBytes, formatDuration, formatTable } from '../table.js';

export function register(program: Command): void {
  program
    .command('ps')
    .description('list running instances')
    .option('--json', 'print JSON (GET /instances)')
    .action(ps);
  program.command('stop <instance...>').description('stop instances (busy ones finish first)').action(stop);
  program
    .command('stats')
    .description('CPU %, memory, requests and uptime of each instance, refreshed every second')
    .option('--no-stream', 'print one sample and exit')
    .option('--json', 'print JSON (with --no-stream: one array)')
    .action(stats);
  program
    .command('exec <instance> <command...>')
    .description(
      'run a command inside a running instance (kiln exec ID -- cat /etc/os-release); exits with its code',
    )
    .option('--timeout <ms>', 'kill the command after this long (default 30000)')
    .option('--json', 'print {exitCode, signal, stdout, stderr}')
    .action(exec);
}

async function exec(
  id: string,
  command: string[],
  options: { timeout?: string; json?: boolean },
): Promise<void> {
  const client = new GatewayClient();
  const body = JSON.stringify({
    cmd: command,
    timeoutMs: options.timeout === undefined ? undefined : Number(options.timeout),
  });
  const headers = { 'content-type': 'application/json' };
  const path = `/instances/${encodeURIComponent(id)}/exec`;
  let result: ExecAnswer;
  if (options.json) {
    result = await client.json<ExecAnswer>('POST', path, { body, headers });
    printJson(result);
  } else {
    // Streamed: output is printed as the command writes it.
    const res = await client.request('POST', `${path}?stream=1`, { body, headers });
    if (!res.ok || !res.body) await client.fail(res);
    let ended: ExecAnswer | undefined;
    for await (const line of ndjsonLines(res.body as AsyncIterable<Uint8Array>)) {
      const event = JSON.parse(line) as ExecEvent;
      if (event.stdout !== undefined) process.stdout.write(event.stdout);
      else if (event.stderr !== undefined) process.stderr.write(event.stderr);
      else if (event.error) throw new GatewayError(500, event.error.code, event.error.message);
      else if ('exitCode' in event)
        ended = { exitCode: event.exitCode ?? null, signal: event.signal ?? null, stdout: '', stderr: '' };
    }
    if (!ended)
      throw new GatewayError(0, 'exec_stream_cut', 'the gateway closed the stream before the command ended');
    result = ended;
  }
  // As a shell reports it: the command's code, or 128 + the signal's number.
  process.exitCode =
    result.exitCode ??
    128 + (result.signal ? (osConstants.signals[result.signal as NodeJS.Signals] ?? 9) : 9);
}

interface ExecAnswer {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** One line of a streamed exec (`POST /instances/:id/exec?stream=1`). */
interface ExecEvent {
  stdout?: string;
  stderr?: string;
  exitCode?: number | null;
  signal?: string | null;
  error?: { code: string; message: string };
}

async function ps(options: { json?: boolean }): Promise<void> {
  const answer = await new GatewayClient().json<{
    instances: InstanceInfo[];
    stemCells: StemCellInfo[];
  }>('GET', '/instances');
  if (options.json) return printJson(answer);
  const { instances, stemCells } = answer;
  const rows = instances.map((i) => [
    i.id,
    i.function,
    i.version,
    i.state,
    i.startedAs,
    formatDuration(i.uptimeMs),
    i.requests,
    formatBytes(i.memoryBytes),
  ]);
  for (const c of stemCells) {
    rows.push([
      c.id,
      `<stem ${c.language}>`,
      '-',
      'ready',
      'stem',
      formatDuration(c.uptimeMs),
      0,
      formatBytes(c.memoryBytes),
    ]);
  }
  console.log(
    formatTable(
      ['INSTANCE', 'FUNCTION', 'VERSION', 'STATE', 'STARTED', 'UPTIME', 'REQUESTS', 'MEMORY'],
      rows,
    ),
  );
}

async function stats(options: { stream: boolean; json?: boolean }): Promise<void> {
  const client = new GatewayClient();
  const sample = async () =>
    (await client.json<{ instances: InstanceInfo[] }>('GET', '/instances')).instances;
  let before = await sample();
  let at = performance.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await sample();
    const now = performance.now();
    const lines = statsBetween(before, after, now - at);
    if (options.json) printJson(lines);
    else {
      if (options.stream && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
      console.log(
        formatTable(
          ['INSTANCE', 'FUNCTION', 'VERSION', 'STATE', 'CPU %', 'MEMORY', 'REQUESTS', 'UPTIME'],
          lines.map((l) => [
            l.id,
            l.function,
            l.version,
            l.state,
            l.cpuPercent.toFixed(1),
            formatBytes(l.memoryBytes),
            l.requests,
            formatDuration(l.uptimeMs),
          ]),
        ),
      );
    }
    if (!options.stream) return;
    before = after;
    at = now;
  }
}

async function stop(ids: string[]): Promise<void> {
  const client = new GatewayClient();
  for (const id of ids) {
    await client.json('DELETE', `/instances/${encodeURIComponent(id)}`);
    console.log(`stopped ${id}`);
  }
}
