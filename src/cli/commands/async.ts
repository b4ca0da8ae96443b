import type { Command } from 'commander';
import type { AsyncSummary } from '../../async/async-invoker.js';
import { GatewayClient } from '../gateway-client.js';
import { formatTable } from '../table.js';

/** `kiln async ls|get|retry`: async invocations (`kiln invoke --async` queues one). */
export function register(program: Command): void {
  const cmd = program.command('async').description('async invocations: list, show, re-drive');
  cmd
    .command('ls')
    .description('list async invocations still kept')
    .option('--dead', 'only dead ones (retries used up): the dead-letter list')
    .option('--state <state>', 'queued | running | succeeded | failed | dead')
    .option('-f, --function <name>', 'only this function')
    .action(list);
  cmd
    .command('get <id>')
    .description("print an invocation's record (state, attempts, result) as JSON")
    .action(async (id: string) => {
      const view = await new GatewayClient().json('GET', `/async/${encodeURIComponent(id)}`);
      console.log(JSON.stringify(view, null, 2));
    });
  cmd
    .command('retry <id>')
    .description('re-drive a dead or failed invocation with a fresh set of retries')
    .action(async (id: string) => {
      const res = await new GatewayClient().json<{ id: string; state: string }>(
        'POST',
        `/async/${encodeURIComponent(id)}/retry`,
      );
      console.log(`${res.id} ${res.state}`);
    });
}

async function list(options: { dead?: boolean; state?: string; function?: string }): Promise<void> {
  const query = new URLSearchParams();
  const state = options.dead ? 'dead' : options.state;
  if (state) query.set('state', state);
  if (options.function) query.set('function', options.function);
  const { invocations } = await new GatewayClient().json<{ invocations: AsyncSummary[] }>(
    'GET',
    `/async${query.size ? `?${query}` : ''}`,
  );
  console.log(
    formatTable(
      ['ID', 'FUNCTION', 'STATE', 'ATTEMPTS', 'LAST', 'CREATED'],
      invocations.map((i) => [
        i.id,
        i.function,
        i.state,
        i.attempts,
        i.lastError ?? (i.lastStatus === undefined ? '-' : String(i.lastStatus)),
        i.createdAt,
      ]),
    ),
  );
}
