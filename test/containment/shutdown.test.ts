import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../harness.js';
import { GatewayProcess } from './gateway-process.js';

/**
 * Issue 8 item 12: SIGTERM dropped every request in flight (5 of 5 lost). Now `kiln serve`
 * stops accepting, lets them finish within its grace period, then stops its instances.
 */
const execFileP = promisify(execFile);
let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await GatewayProcess.start({ KILN_SHUTDOWN_GRACE_MS: '60000' });
});
afterAll(() => gateway?.remove());

async function containers(stateRoot: string): Promise<string[]> {
  const { stdout } = await execFileP('crun', ['--root', stateRoot, 'list', '-q']).catch(() => ({
    stdout: '',
  }));
  return stdout.split('\n').filter(Boolean);
}

describe('SIGTERM with requests in flight', () => {
  it('answers all five with 200, refuses new connections, leaves no container, and exits 0', async () => {
    const deployed = await gateway.deploy(path.join(FIXTURES, 'slow'), {
      name: 'slow',
      runtime: 'node',
      maxInstances: '5',
    });
    expect(deployed.status).toBe(201);
    const port = Number(new URL(gateway.url).port);

    const answers = Array.from({ length: 5 }, () =>
      fetch(`${gateway.url}/fn/slow/?ms=15000`).then(async (res) => ({
        status: res.status,
        body: await res.text(),
      })),
    );
    // All five are on instances (busy) before the signal; 15 s each is far longer than five
    // cold starts take on a loaded machine, so none has been answered yet.
    for (;;) {
      const res = await fetch(`${gateway.url}/instances`, { headers: gateway.headers() });
      const { instances } = (await res.json()) as { instances: { state: string }[] };
      if (instances.filter((i) => i.state === 'busy').length === 5) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await containers(gateway.stateRoot)).toHaveLength(5);

    const exited = gateway.stop();
    await gateway.logged(/SIGTERM: not accepting connections/);
    await expect(
      new Promise((resolve, reject) => connect(port, '127.0.0.1').on('connect', resolve).on('error', reject)),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    expect(await Promise.all(answers)).toEqual(
      Array.from({ length: 5 }, () => ({ status: 200, body: 'slept 15000\n' })),
    );
    expect(await exited).toBe(0);
    expect(gateway.output).toContain('every request answered');
    expect(await containers(gateway.stateRoot)).toEqual([]);
  }, 120_000);
});
