import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDir } from '../../src/data-dir.js';
import { EXAMPLES, TEST_CACHE } from '../harness.js';
import { KILN_CLI, runKiln } from '../kiln-cli.js';
import { GatewayProcess } from './gateway-process.js';

/**
 * Issue 8 item 6: with no KILN_TOKEN the control plane was open to anyone, `--host 0.0.0.0`
 * drew no warning, and the token was compared with `!==`. Now `kiln serve` makes a token at
 * its first start and the local CLI finds it.
 */

function kiln(env: Record<string, string>, ...args: string[]) {
  return runKiln(undefined, args, { env });
}

/** An address of this host that is not loopback, to reach a gateway bound to 0.0.0.0 as a remote client would. */
function outsideAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
}

let gateway: GatewayProcess;
beforeAll(async () => {
  gateway = await GatewayProcess.start();
});
afterAll(() => gateway?.remove());

describe('a gateway started with no KILN_TOKEN', () => {
  it('makes a 0600 token file at its first start and keeps it across restarts', async () => {
    const file = new DataDir(gateway.dataDir).controlToken;
    const info = await stat(file);
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.uid).toBe(process.getuid?.());
    const token = gateway.token;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(gateway.output).toContain(`token in ${file}`);

    expect((await fetch(`${gateway.url}/functions`)).status).toBe(401);
    expect((await fetch(`${gateway.url}/functions`, { headers: gateway.headers() })).status).toBe(200);

    await gateway.stop();
    await gateway.launch();
    expect(gateway.token).toBe(token);
    expect((await fetch(`${gateway.url}/functions`, { headers: gateway.headers() })).status).toBe(200);
  });

  it('is used by the local CLI with no KILN_TOKEN in its environment', async () => {
    const env = { KILN_URL: gateway.url, KILN_DATA: gateway.dataDir };
    const deployed = await kiln(env, 'deploy', path.join(EXAMPLES, 'hello-node'), '--name', 'tok');
    expect(deployed).toMatchObject({ code: 0 });
    expect((await kiln(env, 'ls')).stdout).toMatch(/tok\s+node\s+1/);
    // A CLI pointed at another data dir has no token: a 401 it explains.
    const stranger = await kiln({ KILN_URL: gateway.url, KILN_DATA: path.join(TEST_CACHE, 'nowhere') }, 'ls');
    expect(stranger.code).not.toBe(0);
    expect(stranger.stderr).toContain('[unauthorized]');
    // KILN_TOKEN wins over the file.
    const wrongEnv = await kiln({ ...env, KILN_TOKEN: 'not-the-token-at-all' }, 'ls');
    expect(wrongEnv.stderr).toContain('[unauthorized]');
  });
});

describe('off loopback', () => {
  const address = outsideAddress();

  it.skipIf(!address)('a gateway on 0.0.0.0 demands the token from a non-loopback client', async () => {
    const wide = await GatewayProcess.start({}, ['--host', '0.0.0.0']);
    try {
      const url = wide.url.replace('0.0.0.0', address!);
      expect((await fetch(`${url}/functions`)).status).toBe(401);
      expect((await fetch(`${url}/functions`, { headers: wide.headers() })).status).toBe(200);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await wide.remove();
    }
  });

  it.skipIf(!address)('--insecure-no-auth opens it, with a warning that says so', async () => {
    const open = await GatewayProcess.start({}, ['--host', '0.0.0.0', '--insecure-no-auth']);
    try {
      expect(open.output).toMatch(/WARNING: --insecure-no-auth on 0\.0\.0\.0.*ANYONE/);
      expect(open.output).toContain('NO AUTH');
      expect((await fetch(`${open.url.replace('0.0.0.0', address!)}/functions`)).status).toBe(200);
      expect(open.token).toBeUndefined();
    } finally {
      await open.remove();
    }
  });

  it('kiln serve refuses a weak KILN_TOKEN and a token with --insecure-no-auth before it opens anything', async () => {
    const dataDir = path.join(TEST_CACHE, 'runs', `refused-${randomBytes(4).toString('hex')}`);
    for (const [env, args, code] of [
      [{ KILN_TOKEN: 'short' }, ['--host', '0.0.0.0'], 'weak_token'],
      [{ KILN_TOKEN: 'a-long-enough-token' }, ['--insecure-no-auth'], 'conflicting_auth'],
    ] as const) {
      const child = spawn(process.execPath, [KILN_CLI, 'serve', '--port', '0', ...args], {
        env: { PATH: process.env.PATH, KILN_DATA: dataDir, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exit = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(exit).toBe(1);
      expect(stderr).toContain(`[${code}]`);
      expect(stderr).not.toContain('listening');
    }
    await expect(stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
