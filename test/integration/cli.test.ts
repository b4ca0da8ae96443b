import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, EXAMPLES, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';

let t: TestGateway;

/** Run the built `kiln` binary the way a user does; never throws, returns the exit code. */
function kiln(...args: string[]) {
  return runKiln(t.url, args);
}

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t?.close());

describe('the kiln CLI', () => {
  it('deploys a dir, invokes it, and lists it', async () => {
    const deployed = await kiln('deploy', path.join(EXAMPLES, 'hello-node'), '--name', 'cli-hello');
    expect(deployed.stderr).toBe('');
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toMatch(/deployed cli-hello version 1/);

    const invoked = await kiln('invoke', 'cli-hello', '--path', '/x?name=cli');
    expect(invoked).toMatchObject({ code: 0, stdout: 'Hello, cli! (node v22.23.3, path /x)\n' });

    const posted = await kiln('invoke', 'cli-hello', '-d', 'four');
    expect(posted.stdout).toBe('you sent 4 bytes\n');

    const ls = await kiln('ls');
    expect(ls.stdout).toMatch(/^NAME\s+RUNTIME\s+VERSION/);
    expect(ls.stdout).toMatch(/cli-hello\s+node\s+1\s+128 MiB/);

    const ps = await kiln('ps');
    expect(ps.stdout).toMatch(/^INSTANCE\s+FUNCTION/);
    expect(ps.stdout).toMatch(/cli-hello\s+1\s+(idle|frozen)\s+cold/);

    const id = ps.stdout
      .split('\n')
      .find((l) => l.includes('cli-hello'))!
      .split(/\s+/)[0]!;
    expect(await kiln('stop', id)).toMatchObject({ code: 0, stdout: `stopped ${id}\n` });
    expect((await kiln('ps')).stdout).not.toContain(id);
    const again = await kiln('stop', id);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('[instance_not_found]');
  });

  it('takes the name from the dir and the handler from kiln.json', async () => {
    const deployed = await kiln('deploy', path.join(FIXTURES, 'hello-v2'));
    expect(deployed.code).toBe(0);
    expect((await kiln('invoke', 'hello-v2')).stdout).toBe('version two\n');
  });

  it('fails with a message and a non-zero exit on bad input', async () => {
    const missing = await kiln('deploy', '/nonexistent/dir');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no such directory');

    const broken = await kiln('deploy', path.join(FIXTURES, 'throws-at-load'), '--name', 'cli-hello');
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toContain('[handler_load_failed]');
    expect((await kiln('invoke', 'cli-hello')).stdout).toContain('Hello, world!');

    // The gateway's own refusal is one `kiln:` line on stderr, like every command's error.
    const unknown = await kiln('invoke', 'nobody');
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toMatch(/^kiln: .*\[function_not_found\]/);
  });

  it('says where the gateway should be when it cannot reach it', async () => {
    const { stderr, code } = await runKiln('http://127.0.0.1:1', ['ls']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('cannot reach the Kiln gateway');
  });

  it('doctor passes on a host prepared by kiln doctor --fix', async () => {
    const doctor = await kiln('doctor');
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(/ok\s+oci-runtime\s+\S+\/crun \(crun version/);
    // It says which cgroup version it found (this host: v1 with a cgroup2 mount beside it).
    expect(doctor.stdout).toMatch(/ok\s+cgroups\s+cgroup v[12] /);
  });

  it('kiln top prints one plain table per refresh when stdout is no terminal', async () => {
    expect(
      (await deployDir(t.url, path.join(FIXTURES, 'trace-echo'), { name: 'top-fn', runtime: 'node' })).status,
    ).toBe(201);
    for (let i = 0; i < 3; i++) expect((await fetch(`${t.url}/fn/top-fn/`)).status).toBe(200);
    const top = await kiln('top', '-n', '2', '--interval', '200');
    expect(top).toMatchObject({ code: 0, stderr: '' });
    // No cursor moves or colours: a pipe gets text.
    expect(top.stdout).not.toContain('\x1b');
    const tables = top.stdout.trim().split('\n\n');
    expect(tables).toHaveLength(2);
    for (const table of tables) {
      const lines = table.split('\n');
      expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d$/);
      expect(lines[1]).toMatch(
        /^FUNCTION\s+REQ\/S\s+ERR\/S\s+P50 MS\s+P99 MS\s+COLD\s+STEM\s+INSTANCES\s+BUSY$/,
      );
      // Its deploy's instance served all three (prewarmed: no start a request waited for), idle now.
      const row = lines.find((l) => l.startsWith('top-fn '))!.split(/\s+/);
      expect(row.slice(5)).toEqual(['0', '0', '1', '0']);
    }
    const bad = await kiln('top', '--interval', 'soon');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--interval must be .* \[invalid_option\]/);
  });
});
