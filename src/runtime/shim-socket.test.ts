import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listenForShim, waitForShim } from './shim-socket.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-shim-socket-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A stand-in shim: answers every request on the listening socket it got as fd 0. */
const SHIM = `require('node:net').createServer((s) => s.on('data', () => s.end('HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok'))).listen({ fd: 0 });`;

describe('socket activation', () => {
  it('hands the listening socket to a child as fd 0; a connection made before it accepts waits', async () => {
    const listener = await listenForShim(path.join(dir, 'shim.sock'));
    expect(await readdir(dir)).toEqual(['shim.sock']);
    const child = spawn(process.execPath, ['-e', SHIM], { stdio: [listener.fd, 'ignore', 'inherit'] });
    listener.close();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Made while the child is still booting (node takes tens of ms): it waits in the backlog.
    const early = net.connect(listener.path);
    await new Promise((resolve) => early.once('connect', resolve));
    early.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    try {
      // The gateway never accepted: the early connection is answered by the child.
      const answer = await new Promise<string>((resolve) => early.once('data', (d) => resolve(String(d))));
      expect(answer).toMatch(/^HTTP\/1.1 200 OK/);
      expect(await waitForShim(listener.path, exited, 5000)).toBe('ready');
      // Closing the gateway's copy did not unlink the socket (it was bound under another name).
      expect(await readdir(dir)).toEqual(['shim.sock']);
    } finally {
      early.destroy();
      child.kill();
    }
    expect(await waitForShim(listener.path, exited, 5000)).toBe('exited');
  });
});
