// A Kiln gateway in a child process, driven over HTTP the way a user drives it. Its data
// dir shares the built base images with the test cache (symlinked, like the tests do).
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Pool } from 'undici';
import { packDir } from '../../dist/build/pack-dir.js';
import { DataDir } from '../../dist/data-dir.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli/main.js');

export async function startGateway({ workDir, cacheDir, stemCells, name, env = {} }) {
  const dataDir = path.join(workDir, `data-${name}`);
  await rm(dataDir, { recursive: true, force: true });
  await new DataDir(dataDir).shareImagesOf(new DataDir(cacheDir));
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? '/root',
      KILN_DATA: dataDir,
      KILN_STEM_CELLS: String(stemCells),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const read = (d) => {
      log += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(log);
      if (!m) return;
      // The gateway logs a line per invoke, read here in the process that times the
      // requests: once it listens, its log is drained unread, so no JS of this process runs
      // for it between a request and the next.
      child.stderr.off('data', read);
      child.stderr.resume();
      resolve(m[1]);
    };
    child.stderr.on('data', read);
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}): ${log}`)));
  });
  const pool = new Pool(url, { connections: 4 });
  // The control-plane token `kiln serve` made in the data dir at its first start.
  const token = (await readFile(new DataDir(dataDir).controlToken, 'utf8')).trim();
  const call = async (method, p, body, headers = {}) => {
    const res = await pool.request({
      method,
      path: p,
      body,
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  };
  const json = async (method, p, body, headers) => {
    const res = await call(method, p, body, headers);
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${res.text}`);
    return JSON.parse(res.text);
  };
  return {
    url,
    dataDir,
    pid: child.pid,
    call,
    json,
    async deploy(dir, query) {
      const q = new URLSearchParams(query).toString();
      return json('POST', `/functions?${q}`, await packDir(dir), { 'content-type': 'application/gzip' });
    },
    async instances(fn) {
      const { instances, stemCells } = await json('GET', '/instances');
      return { instances: instances.filter((i) => !fn || i.function === fn), stemCells };
    },
    async stopAll(fn) {
      for (const i of (await this.instances(fn)).instances) await call('DELETE', `/instances/${i.id}`);
    },
    socketOf(instanceId) {
      return path.join(dataDir, 'instances', instanceId, 'shim.sock');
    },
    async stop() {
      await pool.close();
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Parse `Server-Timing: mount;dur=6.1, init;dur=2` into {mount: 6.1, init: 2}. */
export function serverTiming(header) {
  const out = {};
  for (const part of String(header ?? '').split(',')) {
    const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
