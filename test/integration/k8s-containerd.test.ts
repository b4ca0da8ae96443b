import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { OciSpec } from '../../src/runtime/oci-spec.js';
import { startContainerd, type TestContainerd } from '../containerd.js';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';
import { runKiln } from '../kiln-cli.js';
import { type PodTemplateSpec, podOciSpec } from '../pod-oci-spec.js';
import { freePort, startRegistry, type TestRegistry } from '../registry-server.js';

/**
 * The container runtime Kubernetes itself uses runs a function from the image `kiln export
 * k8s` names, with the exported settings: containerd pulls it from a real registry and runs
 * it under runc with the manifest's user, read-only root, /tmp, env and limits, on the host
 * network, and the function answers over HTTP.
 */

let t: TestGateway;
let registry: TestRegistry;
let containerd: TestContainerd | undefined;
let home: string;
let run: ChildProcess | undefined;

interface ProbeAnswer {
  uid: number;
  rootWrite: string;
  tmpWrite: string;
  env: Record<string, string | null>;
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'kiln-home-'));
  containerd = await startContainerd();
  if (!containerd) {
    console.warn(
      "k8s-containerd.test: containerd is not installed (scripts/setup-host.sh installs Debian's containerd): the containerd run is skipped",
    );
    return;
  }
  registry = await startRegistry();
  t = await startTestGateway();
  const deployed = await deployDir(t.url, path.join(FIXTURES, 'probe'), {
    name: 'probe',
    runtime: 'node',
    memoryMb: '96',
    cpus: '0.5',
    env: JSON.stringify({ GREETING: 'from kiln' }),
  });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
});

afterAll(async () => {
  run?.kill('SIGKILL');
  await containerd?.stop();
  await t?.close();
  await registry?.stop();
  await rm(home, { recursive: true, force: true });
});

/** GET the function until it answers; fail at once if its ctr run has ended. */
async function answerOf(url: string, child: ChildProcess, output: () => string): Promise<ProbeAnswer> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ctr run ended (${child.exitCode}): ${output()}`);
    try {
      const res = await fetch(url);
      expect(res.status, await res.clone().text()).toBe(200);
      return (await res.json()) as ProbeAnswer;
    } catch (err) {
      if ((err as { name?: string }).name === 'AssertionError') throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('an exported function under containerd', () => {
  it("runs from the pushed digest with the manifest's user, read-only root, env and limits", {
    timeout: 600_000,
  }, async (ctx) => {
    if (!containerd) return ctx.skip();
    const env = { KILN_DATA: t.dataDir, HOME: home };
    const ref = `${registry.host}/fns/probe:v1`;
    const pushed = await runKiln(t.url, ['push', 'probe', ref], { env });
    expect(pushed.code, pushed.stderr).toBe(0);
    const exported = await runKiln(t.url, ['export', 'k8s', 'probe', '--image', ref], { env });
    expect(exported.code, exported.stderr).toBe(0);
    const deployment = parseAllDocuments(exported.stdout)
      .map(
        (d) =>
          d.toJS() as {
            kind: string;
            spec: { template: { spec: PodTemplateSpec & { containers: { image: string }[] } } };
          },
      )
      .find((d) => d.kind === 'Deployment');
    const pod = deployment!.spec.template.spec;
    const image = pod.containers[0]!.image;
    expect(image).toMatch(new RegExp(`^${registry.host}/fns/probe@sha256:[a-f0-9]{64}$`));

    // containerd pulls exactly the digest the manifest names (plain HTTP: a loopback registry).
    await containerd.ctr('images', 'pull', '--plain-http', image);
    expect(await containerd.ctr('images', 'ls', '-q')).toContain(image);

    // containerd's own spec for the image: args, env and cwd from its config, host network,
    // and its default seccomp profile (what RuntimeDefault means on containerd).
    await containerd.ctr('containers', 'create', '--net-host', '--seccomp', image, 'probe-base');
    const info = JSON.parse(await containerd.ctr('containers', 'info', 'probe-base')) as { Spec: OciSpec };
    await containerd.ctr('containers', 'rm', 'probe-base');

    // The image's layers as containerd's snapshotter unpacked them, in a writable snapshot
    // as containerd gives a container: runc makes mount points (/etc/hosts) in it, then
    // remounts it read-only (root.readonly; containerd cmd/ctr/commands/run/run_unix.go).
    await mkdir(containerd.work, { recursive: true });
    const rootfs = path.join(containerd.work, 'rootfs');
    await mkdir(rootfs);
    await containerd.ctr('images', 'mount', '--rw', image, rootfs);

    // The shim serves on $PORT (the manifest's 8080); a free port here, since the host
    // network is shared with whatever else this machine runs.
    const port = await freePort();
    const spec = podOciSpec(info.Spec, pod, {
      rootfs,
      cgroupsPath: '/kiln-test/probe',
      env: { PORT: String(port) },
    });
    const specFile = path.join(containerd.work, 'spec.json');
    await writeFile(specFile, JSON.stringify(spec));
    run = containerd.spawnCtr(
      'run',
      '--rm',
      '--config',
      specFile,
      '--fifo-dir',
      path.join(containerd.work, 'fifo'),
      'probe',
    );
    let output = '';
    run.stdout?.on('data', (d) => {
      output += String(d);
    });
    run.stderr?.on('data', (d) => {
      output += String(d);
    });
    const ended = new Promise<number | null>((resolve) => run!.once('exit', (code) => resolve(code)));

    const answer = await answerOf(`http://127.0.0.1:${port}/?env=GREETING&env=PORT`, run, () => output);
    expect(answer.uid).toBe(pod.securityContext!.runAsUser);
    expect(answer.rootWrite).toBe('EROFS');
    expect(answer.tmpWrite).toBe('ok');
    expect(answer.env).toEqual({ GREETING: 'from kiln', PORT: String(port) });

    // The task as the host sees it: the manifest's uid and gids, and its cgroup's limits.
    const tasks = await containerd.ctr('tasks', 'ls');
    const pid = Number(
      tasks
        .split('\n')
        .find((l) => l.startsWith('probe '))
        ?.split(/\s+/)[1],
    );
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const { runAsUser, runAsGroup } = pod.securityContext!;
    expect(status).toMatch(
      new RegExp(`^Uid:\\s+${runAsUser}\\s+${runAsUser}\\s+${runAsUser}\\s+${runAsUser}$`, 'm'),
    );
    expect(status).toMatch(
      new RegExp(`^Gid:\\s+${runAsGroup}\\s+${runAsGroup}\\s+${runAsGroup}\\s+${runAsGroup}$`, 'm'),
    );
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(await cgroupLimits(pid)).toEqual({ memoryBytes: 96 * 1024 * 1024, cpuQuota: 50_000 });

    await containerd.ctr('tasks', 'kill', 'probe');
    expect(await ended).toBe(0);
    run = undefined;
    await containerd.ctr('images', 'unmount', rootfs);
  });
});

/** The memory limit and CFS quota of a process's cgroup (v1 memory and cpu hierarchies, or v2). */
async function cgroupLimits(pid: number): Promise<{ memoryBytes: number; cpuQuota: number }> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).trim().split('\n');
  const pathOf = (controller: string) =>
    lines.map((l) => l.split(':')).find(([, c]) => c!.split(',').includes(controller))?.[2];
  const unified = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const memory = pathOf('memory');
  const cpu = pathOf('cpu');
  if (memory !== undefined && cpu !== undefined) {
    return {
      memoryBytes: Number(await readFile(`/sys/fs/cgroup/memory${memory}/memory.limit_in_bytes`, 'utf8')),
      cpuQuota: Number(await readFile(`/sys/fs/cgroup/cpu${cpu}/cpu.cfs_quota_us`, 'utf8')),
    };
  }
  const dir = `/sys/fs/cgroup${unified}`;
  return {
    memoryBytes: Number(await readFile(`${dir}/memory.max`, 'utf8')),
    cpuQuota: Number((await readFile(`${dir}/cpu.max`, 'utf8')).split(' ')[0]),
  };
}
