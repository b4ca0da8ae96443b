import { rename } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Socket activation (docs/DESIGN.md §3): the gateway makes the shim's listening unix socket
 * in the instance's host dir, which is not mounted into the container, and the container's
 * process gets it as fd 0 (SHIM-PROTOCOL.md §1, `KILN_LISTEN_FD=0`). The container then
 * needs no writable host path for its socket (issue 8: 1 GiB was written into the old
 * bind-mounted socket dir).
 *
 * Node has no bare socket(2): a `net.Server` binds and listens, its fd is handed to the
 * OCI runtime as stdin, then the server is closed. Two things make that safe:
 * - libuv unlinks a unix socket's path when its server closes, so the server binds a
 *   temporary name and the file is renamed to its real name first (the unlink then finds
 *   nothing);
 * - the server must never accept: it is closed in the same tick the runtime is spawned
 *   (spawn is synchronous), and nobody knows the path before `rename`. Connections made
 *   before the shim accepts wait in the socket's backlog.
 * libuv clears O_NONBLOCK on a child's fds 0-2 before exec, so the shim gets a blocking
 * socket, as `socket.socket(fileno=0)` in python expects (seen in /proc/<pid>/fdinfo/0).
 */
export interface ShimListener {
  /** The listening socket's fd, valid until `close`. */
  readonly fd: number;
  readonly path: string;
  /** Close the gateway's copy (after the runtime was spawned with it). */
  close(): void;
}

export async function listenForShim(socketPath: string): Promise<ShimListener> {
  const temp = `${socketPath}.binding`;
  // Never called (see above); if it were, the connection could not reach the shim anyway.
  const server = net.createServer((sock) => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: temp, backlog: 128 }, resolve);
  });
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    server.close();
    throw new Error(`no fd for the listening socket ${temp}`);
  }
  try {
    await rename(temp, socketPath);
  } catch (err) {
    server.close();
    throw err;
  }
  return { fd, path: socketPath, close: () => server.close() };
}

/**
 * Wait until the shim answers on its socket. The connection is made at once (it waits in
 * the backlog until the shim accepts); the first bytes of any answer to a health request
 * mean the shim is serving, with no polling. Gives up when the container exits.
 */
export async function waitForShim(
  socketPath: string,
  exited: Promise<unknown>,
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (!gone && Date.now() < deadline) {
    const result = await probe(socketPath, exited, deadline - Date.now());
    if (result === 'answered') return 'ready';
    // The connection closed without an answer: a shim that is not serving yet closed it,
    // or the container is going; try again unless it is gone.
    if (result === 'closed') await Promise.race([sleep(5), exited]);
  }
  return gone ? 'exited' : 'timeout';
}

const HEALTH_REQUEST = 'GET / HTTP/1.1\r\nhost: kiln\r\nx-kiln-health: 1\r\nconnection: close\r\n\r\n';

function probe(
  socketPath: string,
  exited: Promise<unknown>,
  timeoutMs: number,
): Promise<'answered' | 'closed'> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    const done = (result: 'answered' | 'closed') => {
      clearTimeout(timer);
      sock.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('closed'), timeoutMs);
    void exited.then(() => done('closed'));
    sock.once('connect', () => sock.write(HEALTH_REQUEST));
    sock.once('data', () => done('answered'));
    sock.once('error', () => done('closed'));
    sock.once('close', () => done('closed'));
  });
}
