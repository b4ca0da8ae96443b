import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UID_RANGE } from '../../src/runtime/uid-leases.js';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

interface Probe {
  hostname: string;
  pid: number;
  uid: number;
  home: string;
  pids: number[];
  hostFileVisible: boolean;
  gateway: string;
  memoryLimit: string | null;
  pidsMax: string | null;
  cpuQuota: string | null;
  cpuPeriod: string | null;
  interfaces: string[];
  rootWrite: string;
  tmpWrite: string;
}

let t: TestGateway;
let probe: Probe;
const hostFile = `/tmp/kiln-isolation-${randomBytes(6).toString('hex')}`;

beforeAll(async () => {
  t = await startTestGateway();
  await writeFile(hostFile, 'the host wrote this');
  const deployed = await deployDir(t.url, path.join(FIXTURES, 'probe'), {
    name: 'probe',
    runtime: 'node',
    memoryMb: '96',
    pids: '64',
    cpus: '0.5',
  });
  expect(deployed.status).toBe(201);
  const port = new URL(t.url).port;
  probe = (await (
    await fetch(`${t.url}/fn/probe/?file=${encodeURIComponent(hostFile)}&port=${port}`)
  ).json()) as Probe;
});
afterAll(async () => {
  await rm(hostFile, { force: true });
  await t?.close();
});

describe('a deployed function is isolated from its host', () => {
  it('has a hostname of its own', () => {
    expect(probe.hostname).not.toBe(os.hostname());
    expect(probe.hostname).toBe('probe');
  });

  it('sees itself as a low PID and none of the host processes', () => {
    expect(probe.pid).toBeLessThan(10);
    expect(probe.pids.length).toBeLessThan(10);
    expect(probe.pids).not.toContain(process.pid);
  });

  it('runs as an unprivileged user of its own (test/containment/uids.test.ts)', () => {
    expect(probe.uid).toBeGreaterThanOrEqual(DEFAULT_UID_RANGE.first);
    expect(probe.uid).toBeLessThanOrEqual(DEFAULT_UID_RANGE.last);
    // That uid has no /etc/passwd entry: HOME is set, so os.homedir() still answers.
    expect(probe.home).toBe('/tmp');
  });

  it('does not see files the host wrote in /tmp', () => {
    expect(probe.hostFileVisible).toBe(false);
  });

  it("cannot connect to the gateway's TCP port: its network has only loopback", () => {
    expect(probe.gateway).not.toBe('connected');
    expect(probe.interfaces).toEqual(['lo']);
  });

  it("has the spec's memory limit in its cgroup", () => {
    expect(Number(probe.memoryLimit)).toBe(96 * 1024 * 1024);
  });

  it("has the spec's pids limit and cpu quota in its cgroup", () => {
    expect(probe.pidsMax).toBe('64');
    expect(Number(probe.cpuQuota) / Number(probe.cpuPeriod)).toBe(0.5);
  });

  it('has a read-only root and a writable /tmp of its own', () => {
    expect(['EROFS', 'EACCES']).toContain(probe.rootWrite);
    expect(probe.tmpWrite).toBe('ok');
  });
});
