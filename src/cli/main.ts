#!/usr/bin/env node
import { Command } from 'commander';
import { KilnError } from '../errors.js';
import { KILN_VERSION } from '../version.js';
import { registerCommands } from './commands/index.js';
import { GatewayError } from './gateway-client.js';

const program = new Command('kiln')
  .description('Serverless functions in prewarmed crun containers')
  .version(KILN_VERSION, '-v, --version', "print Kiln's version")
  .showHelpAfterError();
registerCommands(program);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof KilnError || err instanceof GatewayError) {
    console.error(`kiln: ${err.message} [${err.code}]`);
  } else {
    console.error(`kiln: ${(err as Error)?.stack ?? String(err)}`);
  }
  process.exit(1);
});
