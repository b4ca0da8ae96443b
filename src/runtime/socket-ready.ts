import { watch } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Wait until a shim accepts connections on its socket. inotify tells when the file
 * appears; a connect proves `listen()` ran too. Gives up when the container exits.
 */
export async function waitForSocket(
  socketPath: string,
  exited: Promise<unknown>,
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  const dir = path.dirname(socketPath);
  let wake: (() => void) | undefined;
  const watcher = watch(dir, () => wake?.());
  try {
    while (!gone && Date.now() < deadline) {
      const result = await tryConnect(socketPath);
      if (result === 'ok') return 'ready';
      // ECONNREFUSED: the socket exists but listen() has not run yet; it will shortly.
      if (result === 'ECONNREFUSED') await sleep(1);
      else {
        await Promise.race([
          new Promise<void>((resolve) => {
            wake = resolve;
          }),
          sleep(20),
          exited,
        ]);
      }
    }
    return gone ? 'exited' : 'timeout';
  } finally {
    watcher.close();
  }
}

function tryConnect(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    sock.once('connect', () => {
      sock.destroy();
      resolve('ok');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}
