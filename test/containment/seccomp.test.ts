import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, FIXTURES, startTestGateway, type TestGateway } from '../harness.js';

/**
 * Issue 8, attempt 8: inside a function, clone with new user and network namespaces worked
 * (and raw and packet sockets opened inside them), and io_uring_setup and vsock sockets were
 * allowed. The function tries each and reports the errno; the kernel runs the filter Kiln
 * compiled (crun: the precompiled BPF program) and, for runc, libseccomp's compile of the
 * same policy. What a function needs (threads, processes, TCP/UDP/unix sockets) still works.
 */
const DENIED = {
  clone_newuser_newnet: 'EPERM',
  unshare_newuser_newnet: 'EPERM',
  unshare_newns: 'EPERM',
  io_uring_setup: 'EPERM',
  af_packet: 'EPERM',
  af_vsock: 'EPERM',
  raw_inet: 'EPERM',
  raw_inet6: 'EPERM',
};
const ALLOWED = { tcp: 'ok', udp6: 'ok', unix: 'ok', fork: 'ok', thread: 'ok' };

async function probe(t: TestGateway): Promise<Record<string, string>> {
  const deployed = await deployDir(t.url, path.join(FIXTURES, 'hostile'), {
    name: 'hostile',
    runtime: 'python',
  });
  expect(deployed.status).toBe(201);
  const res = await fetch(`${t.url}/fn/hostile/seccomp`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, string>;
}

describe.each(['crun', 'runc'])('a function under %s', (runtime) => {
  let t: TestGateway;
  let seen: Record<string, string>;
  beforeAll(async () => {
    const before = process.env.KILN_OCI_RUNTIME;
    process.env.KILN_OCI_RUNTIME = runtime;
    try {
      t = await startTestGateway();
    } finally {
      if (before === undefined) delete process.env.KILN_OCI_RUNTIME;
      else process.env.KILN_OCI_RUNTIME = before;
    }
    expect(t.kiln.runtime.driver.name).toBe(runtime);
    seen = await probe(t);
  });
  afterAll(() => t?.close());

  it('runs under a seccomp filter', () => {
    expect(seen.mode).toBe('2');
  });

  it('cannot make namespaces, set up io_uring, or open packet, vsock or raw sockets', () => {
    expect(seen).toMatchObject(DENIED);
  });

  it('still opens TCP, UDP and unix sockets, starts threads and forks', () => {
    expect(seen).toMatchObject(ALLOWED);
  });
});
