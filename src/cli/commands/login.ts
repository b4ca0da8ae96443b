import type { Command } from 'commander';
import { KilnError } from '../../errors.js';
import { openLocalImages } from '../local-images.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  insecure?: boolean;
}

export function register(program: Command): void {
  program
    .command('login <registry>')
    .description(
      'check and store credentials for a registry (host[:port]) in ~/.config/kiln/auth.json, mode 0600',
    )
    .requiredOption('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (visible to other users in ps: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--insecure', 'allow plain http to a registry that is not on loopback')
    .action(login);
  program.command('logout <registry>').description("forget a registry's stored credentials").action(logout);
}

async function login(registry: string, flags: LoginFlags): Promise<void> {
  let password = flags.password;
  if (flags.passwordStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (!password) throw new KilnError('missing_password', 'give a password with --password-stdin (or -p)');
  const { registries } = await openLocalImages();
  await registries.login(registry, { username: flags.username!, password }, { insecure: flags.insecure });
  console.log(`logged in to ${registry} (credentials in ${registries.credentials.paths.kiln})`);
}

async function logout(registry: string): Promise<void> {
  const { registries } = await openLocalImages();
  const removed = await registries.credentials.remove(registry);
  console.log(removed ? `logged out of ${registry}` : `no credentials were stored for ${registry}`);
}
