import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountOverlay, unmount } from '../../src/image/overlay.js';
import { Kiln } from '../../src/kiln.js';
import { detectCgroupTree } from '../../src/runtime/cgroup/host.js';
import type { Container } from '../../src/runtime/container.js';
import { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import type { OciRuntimeDriver } from '../../src/runtime/oci/driver.js';
import { installedOciRuntimes } from '../../src/runtime/oci/select.js';
import { buildOciSpec } from '../../src/runtime/oci-spec.js';
import { functionSeccompFilter } from '../../src/runtime/seccomp/function-filter.js';
import { SecretsTmpfs } from '../../src/runtime/secrets-tmpfs.js';
import { UidLeases } from '../../src/runtime/uid-leases.js';
import { ROOT, TEST_CACHE } from '../harness.js';

const execFileP = promisify(execFile);

/**
 * Every installed OCI runtime driver passes the same suite (containerd's habit: one
 * testsuite, every implementation), on a real container running the node base image's
 * shim with no function loaded.
 */
const runId = randomBytes(4).toString('hex');
const drivers = await installedOciRuntimes(`/run/kiln/test-${runId}`);
/** The same runtimes running containers detached under one reaper (shared-reaper.ts). */
const sharedReaperDrivers = await installedOciRuntimes(`/run/kiln/test-${runId}`, undefined, {
  sharedReaper: true,
});
/** The process ids whose command line holds `word` (a container's id). */
async function processesNaming(word: string): Promise<{ pid: number; argv: string[] }[]> {
  const found: { pid: number; argv: string[] }[] = [];
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv.includes(word)) found.push({ pid: Number(pid), argv });
  }
  return found;
}
/** The command name of `pid`'s parent. */
async function parentCommand(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
  return (await readFile(`/proc/${ppid}/comm`, 'utf8')).trim();
}
let layers: string[] = [];
let args: string[] = [];
let env: string[] = [];
const instancesDir = path.join(TEST_CACHE, 'runs', `oci-${runId}`);

beforeAll(async () => {
  const { baseImages, snapshots } = await Kiln.openStores({ dataDir: TEST_CACHE });
  const image = await baseImages.ensure('node');
  layers = image.manifest.layers.map((l) => snapshots.path(l.digest));
  args = image.config.config.Entrypoint ?? [];
  env = [...(image.config.config.Env ?? [])];
  await mkdir(instancesDir, { recursive: true });
});
afterAll(async () => {
  await rm(instancesDir, { recursive: true, force: true });
  await rmdir(`/run/kiln/test-${runId}`).catch(() => undefined);
});

it('finds crun, the runtime Kiln prefers, on this host', () => {
  expect(drivers.map((d) => d.name)[0]).toBe('crun');
});

describe.each([
  ...drivers.map((d) => [`${d.name} (a runtime process per container)`, d, false] as const),
  ...sharedReaperDrivers.map((d) => [`${d.name} (one shared reaper)`, d, true] as const),
])('the %s driver', (_name, driver, shared) => {
  let runtime: ContainerRuntime;
  const started: Container[] = [];
  beforeAll(async () => {
    runtime = new ContainerRuntime(instancesDir, driver, await detectCgroupTree());
  });
  afterAll(async () => {
    await Promise.all(started.map((c) => c.stop()));
    expect(await driver.list()).toEqual([]);
    driver.close();
  });

  async function start(): Promise<Container> {
    const container = await runtime.start({
      layers,
      args,
      env,
      cwd: '/fn',
      limits: { memoryBytes: 128 * 1024 * 1024, pids: 64 },
    });
    started.push(container);
    return container;
  }

  it('says what it is and what it supports', async () => {
    expect(await driver.version()).toMatch(new RegExp(`^${driver.name} version \\d`));
    const features = await driver.features();
    expect(features.ociVersionMax).toMatch(/^1\.\d/);
    expect(features.seccomp).toBe(true);
  });

  it('runs a container it then lists and reports as running', async () => {
    const container = await start();
    expect(await driver.list()).toContain(container.id);
    const state = await driver.state(container.id);
    expect(state).toMatchObject({ id: container.id, status: 'running' });
    expect(state?.pid).toBeGreaterThan(1);
    // Who waits for the container: its own foreground runtime process, or the shared reaper
    // (perl), which adopted the init once the detached runtime exited.
    const runtimes = (await processesNaming(container.id)).filter((p) => p.argv.includes('run'));
    expect(runtimes).toHaveLength(shared ? 0 : 1);
    expect(await parentCommand(state?.pid ?? 0)).toBe(shared ? 'perl' : driver.name);
  });

  it("execs a command in a running container: its namespaces, its user, the command's output and exit code", async () => {
    const container = await start();
    const result = await container.exec([
      '/bin/sh',
      '-c',
      'echo "uid $(id -u) host $(hostname)"; tr "\\0" " " < /proc/1/cmdline; echo; ls /proc | grep -c "^[0-9]"',
    ]);
    expect(result.code).toBe(0);
    const [who, init, pids] = result.stdout.trim().split('\n');
    expect(who).toBe(`uid ${container.uid} host ${container.id}`);
    // PID 1 of the namespace it joined is the container's shim, not the host's init.
    expect(init?.trim()).toBe(args.join(' '));
    expect(Number(pids)).toBeLessThan(10);
    const failed = await container.exec(['/bin/sh', '-c', 'echo oops >&2; exit 3'], { env: ['X=1'] });
    expect(failed).toMatchObject({ code: 3, stderr: 'oops\n' });
    const withEnv = await container.exec(['/bin/sh', '-c', 'echo "$GREETING from $(pwd)"'], {
      env: ['GREETING=hi'],
      cwd: '/tmp',
    });
    expect(withEnv.stdout).toBe('hi from /tmp\n');
  });

  it('hands the shim its listening socket as fd 0 (no host dir mounted for it) and pipes its output back', async () => {
    const container = await start();
    const seen = await container.exec([
      '/bin/sh',
      '-c',
      'readlink /proc/1/fd/0; grep -c " /run/kiln " /proc/self/mountinfo; echo "to the log" > /proc/1/fd/2',
    ]);
    const [stdin, mounts] = seen.stdout.trim().split('\n');
    expect(stdin).toMatch(/^socket:\[\d+\]$/);
    expect(mounts).toBe('0');
    // The socket lives in the instance's host dir, which the container does not see.
    expect(container.socketPath.startsWith(instancesDir)).toBe(true);
    await expect.poll(() => container.logTail()).toContain('to the log');
  });

  it('creates a container ahead whose process waits, starts it on demand, and reads its exit as run does', async () => {
    const request = { layers, args, env, cwd: '/fn', limits: { memoryBytes: 128 * 1024 * 1024, pids: 64 } };
    const created = await runtime.create(request);
    started.push(created.container);
    expect(await driver.state(created.container.id)).toMatchObject({ status: 'created' });
    const container = await created.start();
    expect(container.timings.precreated).toBe(true);
    expect(await driver.state(container.id)).toMatchObject({ status: 'running' });
    // A container starts once.
    await expect(driver.start(container.id)).rejects.toThrow();
    // The shim got its socket as fd 0 through the create: it answers there.
    const seen = await container.exec(['/bin/sh', '-c', 'readlink /proc/1/fd/0']);
    expect(seen.stdout).toMatch(/^socket:\[\d+\]$/m);
    // The reaper hands on the init's status: a SIGKILL Kiln did not ask for reads as the OOM killer's.
    await driver.kill(container.id, 'KILL');
    const exit = await container.exited;
    expect(exit.code).toBe(137);
    expect(container.exitCause(exit)).toBe('out_of_memory');
    expect(await driver.state(container.id)).toBeUndefined();

    // One discarded before its start is gone from the runtime, its dir with it.
    const unused = await runtime.create(request);
    const dir = path.dirname(unused.container.socketPath);
    expect(existsSync(dir)).toBe(true);
    await unused.discard();
    expect(unused.container.exitCause(await unused.container.exited)).toBe('stopped');
    expect(await driver.list()).not.toContain(unused.container.id);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses to exec in a container that is not running', async () => {
    await expect(driver.exec('k-no-such-container', ['/bin/true'])).rejects.toMatchObject({
      code: 'container_not_running',
    });
  });

  it('reads an unrequested SIGKILL of the init as the OOM killer, and a stop as a stop', async () => {
    const killed = await start();
    await driver.kill(killed.id, 'KILL');
    const exit = await killed.exited;
    expect(exit.code).toBe(137);
    expect(killed.exitCause(exit)).toBe('out_of_memory');
    const stopped = await start();
    expect(stopped.exitCause(await stopped.stop())).toBe('stopped');
    // Gone from the runtime once it exited: Kiln deletes what it ran.
    expect(await driver.state(killed.id)).toBeUndefined();
    expect(await driver.list()).not.toContain(stopped.id);
  });
});

/**
 * `create` leaves the container's init to PID 1, which on this host reaps orphans only
 * seconds later. So this part runs the driver in a child process under a
 * subreaper: perl sets PR_SET_CHILD_SUBREAPER (prctl is syscall 157 on x86_64), runs the
 * child, then reaps every init handed to it.
 */
const REAPER = `syscall(157, 36, 1, 0, 0, 0) == 0 or die "prctl: $!";
my $status = system(@ARGV);
1 while waitpid(-1, 0) > 0;
exit($status >> 8);`;

/** Runs in the child: the driver's own create → start → exec → kill → delete, from dist/. */
const LIFECYCLE = `
const [name, stateRoot, id, bundle] = process.argv.slice(2);
const { installedOciRuntimes } = await import(${JSON.stringify(path.join(ROOT, 'dist/runtime/oci/select.js'))});
const driver = (await installedOciRuntimes(stateRoot, name))[0];
await driver.create(id, bundle, 'ignore');
const created = await driver.state(id);
await driver.start(id);
const started = await driver.state(id);
const exec = await driver.exec(id, ['/bin/sh', '-c', 'echo hello from $(id -u)'], { user: { uid: 65534, gid: 65534 } });
await driver.kill(id, 'KILL');
await driver.delete(id);
console.log(JSON.stringify({ created, started, exec, deleted: await driver.state(id), list: await driver.list() }));
`;

describe.each(drivers.map((d) => [d.name, d] as const))('create and start with %s', (name, driver) => {
  const dir = path.join(instancesDir, `lifecycle-${name}`);
  afterAll(async () => {
    await unmount(path.join(dir, 'rootfs'));
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a container that waits, starts it, execs in it, kills and deletes it', async () => {
    const id = `kiln-test-${runId}-${name}`;
    await mkdir(path.join(dir, 'rootfs'), { recursive: true });
    await mountOverlay(layers, path.join(dir, 'rootfs'));
    const spec = buildOciSpec({
      id,
      hostname: 'lifecycle',
      rootfs: path.join(dir, 'rootfs'),
      args: ['/bin/sleep', '600'],
      env: ['PATH=/usr/bin:/bin'],
      cwd: '/',
      uid: 65534,
      gid: 65534,
      limits: { memoryBytes: 64 * 1024 * 1024, pids: 32 },
      binds: [],
      tmpSizeMb: 8,
      nofile: 1024,
      seccomp: functionSeccompFilter(driver.precompiledSeccomp),
    });
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(spec));
    const helper = path.join(dir, 'lifecycle.mjs');
    await writeFile(helper, LIFECYCLE);
    const { stdout } = await execFileP('perl', [
      '-e',
      REAPER,
      process.execPath,
      helper,
      name,
      `/run/kiln/test-${runId}`,
      id,
      dir,
    ]);
    const seen = JSON.parse(stdout) as {
      created: { status: string; pid: number };
      started: { status: string; pid: number };
      exec: { code: number; stdout: string };
      deleted: unknown;
      list: string[];
    };
    expect(seen.created.status).toBe('created');
    expect(seen.started).toMatchObject({ status: 'running', pid: seen.created.pid });
    expect(seen.exec).toMatchObject({ code: 0, stdout: 'hello from 65534\n' });
    expect(seen.deleted).toBeUndefined();
    expect(seen.list).toEqual([]);
    // Reaped by the subreaper, not left as a zombie: its /proc entry is gone.
    expect(existsSync(`/proc/${seen.created.pid}`)).toBe(false);
  });
});

it("offers a container's memory to same-page merging only when opted in (KILN_KSM), run or created ahead", async () => {
  const [merging] = await installedOciRuntimes(`/run/kiln/test-${runId}`, 'crun', { mergeMemory: true });
  const [plain] = drivers;
  if (!merging || !plain) throw new Error('no OCI runtime');
  const request = { layers, args, env, cwd: '/fn', limits: { memoryBytes: 128 * 1024 * 1024, pids: 64 } };
  const mergeAny = async (driver: OciRuntimeDriver, container: Container) => {
    const pid = (await driver.state(container.id))?.pid;
    return /^ksm_merge_any: (\w+)$/m.exec(await readFile(`/proc/${pid}/ksm_stat`, 'utf8'))?.[1];
  };
  const cgroups = await detectCgroupTree();
  for (const [driver, expected] of [
    [merging, 'yes'],
    [plain, 'no'],
  ] as const) {
    const runtime = new ContainerRuntime(instancesDir, driver, cgroups);
    const ran = await runtime.start(request);
    const created = await (await runtime.create(request)).start();
    try {
      expect(await mergeAny(driver, ran)).toBe(expected);
      expect(await mergeAny(driver, created)).toBe(expected);
    } finally {
      await Promise.all([ran.stop(), created.stop()]);
    }
  }
});

it('leaves no instance dir, secrets dir or uid lease behind when making the secrets dir fails', async () => {
  const dir = path.join(instancesDir, 'failed-secrets');
  await mkdir(dir, { recursive: true });
  // The secrets root sits under a regular file: its mkdir fails (ENOTDIR), a real failure.
  const notADir = path.join(instancesDir, 'not-a-dir');
  await writeFile(notADir, '');
  const uids = new UidLeases(path.join(instancesDir, 'failed-secrets-uids'), `failed-secrets-${runId}`);
  const runtime = new ContainerRuntime(dir, drivers[0]!, await detectCgroupTree(), {
    uids,
    secrets: new SecretsTmpfs(path.join(notADir, 'secrets')),
  });
  await expect(
    runtime.start({
      layers,
      args,
      env,
      cwd: '/fn',
      limits: { memoryBytes: 64 * 1024 * 1024, pids: 32 },
      mountSecretsDir: true,
    }),
  ).rejects.toThrow(/ENOTDIR/);
  expect(await readdir(dir)).toEqual([]);
  expect(await uids.releaseAll()).toBe(0);
});
