import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { KilnError } from '../../errors.js';
import { GatewayClient } from '../gateway-client.js';
import { repeatable } from '../repeatable.js';

interface InvokeOptions {
  request: string;
  data?: string;
  path: string;
  header?: string[];
  include?: boolean;
  async?: boolean;
  callback?: string;
  event?: string;
}

export function register(program: Command): void {
  program
    .command('invoke <name>')
    .description('call a function through the gateway and print its answer')
    .option('-X, --request <method>', 'HTTP method', 'GET')
    .option('-d, --data <data>', 'request body (@file reads a file); implies POST')
    .option('-p, --path <path>', 'path after /fn/<name>', '/')
    .option('-H, --header <header>', '"Name: value" (repeatable)', repeatable)
    .option('-i, --include', 'print the status line and headers')
    .option(
      '--async',
      'queue it (POST /async/<name>/...) and print the invocation id; `kiln async get ID` shows it',
    )
    .option('--callback <url>', 'with --async: POST the result to this URL when it is done')
    .option(
      '-e, --event <file>',
      "raw invoke through Lambda's Invoke API: the JSON event from a file (- reads stdin); prints the handler's result, exits 1 on a function error (with --async: an Event invoke, prints the invocation id)",
    )
    .action(async (name: string, options: InvokeOptions) => {
      process.exitCode =
        options.event === undefined ? await invoke(name, options) : await invokeRaw(name, options);
    });
}

/**
 * `POST /2015-03-31/functions/NAME/invocations`, as `aws lambda invoke` and `sam local invoke
 * -e` do: the event in, the handler's result out. A function error is still a 200 with
 * `X-Amz-Function-Error`: the error JSON is printed like a result and the exit code is 1.
 */
async function invokeRaw(name: string, options: InvokeOptions): Promise<number> {
  if (
    options.data !== undefined ||
    options.header?.length ||
    options.path !== '/' ||
    options.request !== 'GET' ||
    options.callback !== undefined
  ) {
    throw new KilnError(
      'invalid_option',
      '--event cannot be combined with -d, -H, -p, -X or --callback: the event is the whole request',
    );
  }
  const event = options.event === '-' ? await readStdin() : await readFile(options.event!);
  const client = new GatewayClient();
  // With --async: Lambda's `Event` invocation type, queued as an async invocation (202).
  const type = options.async ? 'Event' : 'RequestResponse';
  const res = await client.request('POST', `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
    body: event,
    headers: { 'content-type': 'application/json', 'x-amz-invocation-type': type },
  });
  if (!res.ok) return client.fail(res);
  if (options.async) {
    console.log(res.headers.get('x-amz-request-id'));
    return 0;
  }
  if (options.include) {
    console.log(`HTTP ${res.status} ${res.statusText}`);
    for (const [k, v] of res.headers) console.log(`${k}: ${v}`);
    console.log();
  }
  const result = Buffer.from(await res.arrayBuffer());
  process.stdout.write(result);
  if (result.length && result[result.length - 1] !== 0x0a && process.stdout.isTTY) process.stdout.write('\n');
  const functionError = res.headers.get('x-amz-function-error');
  if (functionError) {
    console.error(
      `kiln: the function failed (${functionError}); its logs: kiln logs ${name} --request ${res.headers.get('x-amz-request-id') ?? ''}`,
    );
    return 1;
  }
  return 0;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function invoke(name: string, options: InvokeOptions): Promise<number> {
  const headers: Record<string, string> = {};
  for (const h of options.header ?? []) {
    const colon = h.indexOf(':');
    if (colon < 1) throw new KilnError('invalid_header', `-H "${h}" must be "Name: value"`);
    headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
  }
  let body: string | Uint8Array | undefined;
  if (options.data !== undefined) {
    body = options.data.startsWith('@') ? await readFile(options.data.slice(1)) : options.data;
  }
  const method =
    options.data !== undefined && options.request === 'GET' ? 'POST' : options.request.toUpperCase();
  const sub = options.path.startsWith('/') ? options.path : `/${options.path}`;
  if (options.async) {
    if (options.callback) headers['x-callback-url'] = options.callback;
    // An async invocation is always a POST (docs: README "Async invocations").
    const queued = await new GatewayClient().json<{ id: string; state: string }>(
      'POST',
      `/async/${encodeURIComponent(name)}${sub}`,
      { body, headers },
    );
    console.log(queued.id);
    return 0;
  }
  const client = new GatewayClient();
  const res = await client.request(method, `/fn/${encodeURIComponent(name)}${sub}`, {
    body,
    headers,
  });
  // An answer without an instance is the gateway's own refusal (function_not_found, 429, …):
  // one `kiln:` line like every other command's error, not the raw JSON. A function's own
  // error answer carries `x-kiln-instance` and is printed as it came.
  if (res.status >= 400 && !res.headers.has('x-kiln-instance') && !options.include) await client.fail(res);
  if (options.include) {
    console.log(`HTTP ${res.status} ${res.statusText}`);
    for (const [k, v] of res.headers) console.log(`${k}: ${v}`);
    console.log();
  }
  process.stdout.write(Buffer.from(await res.arrayBuffer()));
  return res.status >= 400 ? 1 : 0;
}
