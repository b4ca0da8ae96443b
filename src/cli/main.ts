#!/usr/bin/env node
import { Command } from 'commander';
import { KilnError } from '../errors.js';
import { LANGUAGE_NAMES, LANGUAGES } from '../languages/registry.js';
import * as commands from './commands.js';
import { GatewayError } from './gateway-client.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const program = new Command('kiln')
  .description('Serverless functions in prewarmed crun containers')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the gateway (HTTP API and invoke path)')
  .option('--host <host>', 'address to listen on', process.env.KILN_HOST || '127.0.0.1')
  .option('--port <port>', 'port to listen on', process.env.KILN_PORT || '8080')
  .option('--examples <dir>', 'deploy every function dir in <dir> after starting')
  .action(commands.serve);

program
  .command('deploy <dir>')
  .description('deploy a function directory (a new version; the old one serves until it is ready)')
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
  .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect)
  .action(commands.deploy);

program
  .command('invoke <name>')
  .description('call a function through the gateway and print its answer')
  .option('-X, --request <method>', 'HTTP method', 'GET')
  .option('-d, --data <data>', 'request body (@file reads a file); implies POST')
  .option('-p, --path <path>', 'path after /fn/<name>', '/')
  .option('-H, --header <header>', '"Name: value" (repeatable)', collect)
  .option('-i, --include', 'print the status line and headers')
  .action(async (name, options) => {
    process.exitCode = await commands.invoke(name, options);
  });

program
  .command('logs <name>')
  .description("print a function's logs (stdout and stderr of its instances, kept across restarts)")
  .option('-f, --follow', 'keep printing new lines until interrupted')
  .option('-n, --tail <n>', 'only the last N lines')
  .option('--since <when>', 'only lines since: a duration (10m, 1h30m), an ISO time or epoch ms')
  .option('--request <id>', 'only the lines of one request (its x-kiln-request-id)')
  .option('-t, --timestamps', 'prefix each line with when the gateway read it')
  .option('--json', 'print each record as JSON (time, function, version, instance, requestId, stream, line)')
  .action(commands.logs);
program.command('ls').description('list functions').action(commands.list);
program.command('ps').description('list running instances').action(commands.ps);
program
  .command('stop <instance...>')
  .description('stop instances (busy ones finish first)')
  .action(commands.stop);
program.command('rm <name>').description('remove a function and stop its instances').action(commands.remove);

program
  .command('doctor')
  .description('check that this host can run Kiln containers')
  .option('--fix', 'repair what can be repaired (mounts the hugetlb v1 cgroup crun needs on hybrid hosts)')
  .action(async (options) => {
    process.exitCode = await commands.doctor(options);
  });

program
  .command('runtimes')
  .description('base images')
  .command('build [language]')
  .description(
    `build a language base image now (${[...LANGUAGE_NAMES, 'all'].join(' | ')}); later builds reuse cached layers`,
  )
  .action((language = 'all') => commands.buildRuntimes(language));

program.parseAsync().catch((err: unknown) => {
  if (err instanceof KilnError || err instanceof GatewayError) {
    console.error(`kiln: ${err.message} [${err.code}]`);
  } else {
    console.error(`kiln: ${(err as Error)?.stack ?? String(err)}`);
  }
  process.exit(1);
});
