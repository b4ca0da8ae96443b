import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathExists } from '../disk.js';
import { KilnError } from '../errors.js';
import { startGateway } from '../gateway/server.js';
import { Kiln } from '../kiln.js';
import { RUNTIMES_DIR } from '../languages/recipe.js';
import {
  detectLanguage,
  isLanguageName,
  LANGUAGE_NAMES,
  type LanguageName,
  languageNamed,
} from '../languages/registry.js';
import type { LogRecord } from '../logs/log-store.js';
import type { StemCellInfo } from '../pool/stem-cells.js';
import type { InstanceInfo } from '../pool/warm-pool.js';
import { checkHost, fixHost } from '../runtime/host-check.js';
import { GatewayClient } from './gateway-client.js';
import { packDir } from './pack-dir.js';
import { formatBytes, formatDuration, formatTable } from './table.js';

const log = (line: string) => console.error(`kiln: ${line}`);

export async function serve(options: { host: string; port: string; examples?: string }): Promise<void> {
  const kiln = await Kiln.open({ log });
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new KilnError('invalid_port', `"${options.port}" is not a port`);
  const gateway = await startGateway(kiln, options.host, port, { token: process.env.KILN_TOKEN });
  log(
    `gateway listening on ${gateway.url} (data ${kiln.data.root}, ${kiln.runtime.driver.name}, cgroup ${kiln.runtime.cgroups.version})`,
  );
  const stop = async () => {
    log('stopping: closing the gateway and its instances');
    await gateway.close();
    await kiln.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (options.examples) await deployExamples(kiln, options.examples, gateway.url);
}

async function deployExamples(kiln: Kiln, dir: string, url: string): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const fnDir = path.join(dir, name);
    const fields = await deployFields(fnDir, {});
    try {
      const result = await kiln.deployer.deploy({ bundle: await packDir(fnDir), fields });
      log(`deployed ${result.record.name} v${result.version.version}: curl ${url}/fn/${result.record.name}/`);
    } catch (err) {
      log(`example ${name} did not deploy: ${(err as Error).message}`);
    }
  }
}

/** Spec fields for a deploy: flags, else kiln.json's, else the dir name and a detected runtime. */
async function deployFields(dir: string, flags: Record<string, unknown>): Promise<Record<string, unknown>> {
  const fields: Record<string, unknown> = {};
  let kilnJson: Record<string, unknown> = {};
  const specFile = path.join(dir, 'kiln.json');
  if (await pathExists(specFile))
    kilnJson = JSON.parse(await readFile(specFile, 'utf8')) as Record<string, unknown>;
  if (!kilnJson.name && !flags.name) fields.name = path.basename(path.resolve(dir)).toLowerCase();
  if (!kilnJson.runtime && !flags.runtime) fields.runtime = await detectRuntime(dir);
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) fields[k] = v;
  return fields;
}

async function detectRuntime(dir: string): Promise<LanguageName> {
  const found = detectLanguage(await readdir(dir));
  if (found) return found;
  throw new KilnError(
    'missing_runtime',
    `cannot tell the runtime of ${dir}: pass --runtime (${LANGUAGE_NAMES.join(', ')})`,
  );
}

export async function deploy(
  dir: string,
  options: {
    name?: string;
    runtime?: string;
    handler?: string;
    memory?: string;
    timeout?: string;
    env?: string[];
  },
): Promise<void> {
  if (!(await pathExists(dir))) throw new KilnError('not_found', `no such directory: ${dir}`);
  const env: Record<string, string> = {};
  for (const pair of options.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new KilnError('invalid_env', `--env "${pair}" must be KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const fields = await deployFields(dir, {
    name: options.name,
    runtime: options.runtime,
    handler: options.handler,
    memoryMb: options.memory,
    timeoutMs: options.timeout,
    env: Object.keys(env).length ? JSON.stringify(env) : undefined,
  });
  const query = new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)]));
  const client = new GatewayClient();
  const started = Date.now();
  const result = await client.json<{
    function: { name: string };
    version: number;
    layer: string;
    layerReused: boolean;
  }>('POST', `/functions?${query}`, {
    body: await packDir(dir),
    headers: { 'content-type': 'application/gzip' },
  });
  console.log(
    `deployed ${result.function.name} version ${result.version} in ${Date.now() - started} ms (layer ${result.layer.slice(0, 19)}${result.layerReused ? ', unchanged' : ''})`,
  );
  console.log(
    `invoke: kiln invoke ${result.function.name}   or   curl ${client.baseUrl}/fn/${result.function.name}/`,
  );
}

export async function invoke(
  name: string,
  options: { request: string; data?: string; path: string; header?: string[]; include?: boolean },
): Promise<number> {
  const headers: Record<string, string> = {};
  for (const h of options.header ?? []) {
    const colon = h.indexOf(':');
    if (colon < 1) throw new KilnError('invalid_header', `-H "${h}" must be "Name: value"`);
    headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
  }
  let body: string | Uint8Array | undefined;
  if (options.data !== undefined) {
    body = options.data.startsWith('@') ? await readFile(options.data.slice(1)) : options.data;
  }
  const method =
    options.data !== undefined && options.request === 'GET' ? 'POST' : options.request.toUpperCase();
  const sub = options.path.startsWith('/') ? options.path : `/${options.path}`;
  const res = await new GatewayClient().request(method, `/fn/${encodeURIComponent(name)}${sub}`, {
    body,
    headers,
  });
  if (options.include) {
    console.log(`HTTP ${res.status} ${res.statusText}`);
    for (const [k, v] of res.headers) console.log(`${k}: ${v}`);
    console.log();
  }
  process.stdout.write(Buffer.from(await res.arrayBuffer()));
  return res.status >= 400 ? 1 : 0;
}

export async function logs(
  name: string,
  options: {
    follow?: boolean;
    tail?: string;
    since?: string;
    request?: string;
    timestamps?: boolean;
    json?: boolean;
  },
): Promise<void> {
  const query = new URLSearchParams();
  if (options.follow) query.set('follow', '1');
  if (options.tail !== undefined) query.set('tail', options.tail);
  if (options.since !== undefined) query.set('since', options.since);
  if (options.request !== undefined) query.set('request', options.request);
  const client = new GatewayClient();
  const res = await client.request('GET', `/functions/${encodeURIComponent(name)}/logs?${query}`);
  if (!res.ok || !res.body) await client.fail(res);
  const print = (text: string) => {
    if (!text) return;
    if (options.json) return void process.stdout.write(`${text}\n`);
    const record = JSON.parse(text) as LogRecord;
    process.stdout.write(options.timestamps ? `${record.time} ${record.line}\n` : `${record.line}\n`);
  };
  let partial = '';
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    const lines = (partial + Buffer.from(chunk).toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) print(line);
  }
  print(partial);
}

export async function list(): Promise<void> {
  const { functions } = await new GatewayClient().json<{
    functions: { name: string; runtime: string; version: number; memoryMb: number; updatedAt: string }[];
  }>('GET', '/functions');
  console.log(
    formatTable(
      ['NAME', 'RUNTIME', 'VERSION', 'MEMORY', 'UPDATED'],
      functions.map((f) => [f.name, f.runtime, f.version, `${f.memoryMb} MiB`, f.updatedAt]),
    ),
  );
}

export async function ps(): Promise<void> {
  const { instances, stemCells } = await new GatewayClient().json<{
    instances: InstanceInfo[];
    stemCells: StemCellInfo[];
  }>('GET', '/instances');
  const rows = instances.map((i) => [
    i.id,
    i.function,
    i.version,
    i.state,
    i.startedAs,
    formatDuration(i.uptimeMs),
    i.requests,
    formatBytes(i.memoryBytes),
  ]);
  for (const c of stemCells) {
    rows.push([
      c.id,
      `<stem ${c.language}>`,
      '-',
      'ready',
      'stem',
      formatDuration(c.uptimeMs),
      0,
      formatBytes(c.memoryBytes),
    ]);
  }
  console.log(
    formatTable(
      ['INSTANCE', 'FUNCTION', 'VERSION', 'STATE', 'STARTED', 'UPTIME', 'REQUESTS', 'MEMORY'],
      rows,
    ),
  );
}

export async function stop(ids: string[]): Promise<void> {
  const client = new GatewayClient();
  for (const id of ids) {
    await client.json('DELETE', `/instances/${encodeURIComponent(id)}`);
    console.log(`stopped ${id}`);
  }
}

export async function remove(name: string): Promise<void> {
  await new GatewayClient().json('DELETE', `/functions/${encodeURIComponent(name)}`);
  console.log(`removed ${name}`);
}

export async function doctor(options: { fix?: boolean }): Promise<number> {
  let findings = await checkHost();
  if (options.fix) {
    for (const change of await fixHost(findings)) console.log(`fixed: ${change}`);
    findings = await checkHost();
  }
  for (const f of findings) {
    const mark = f.ok ? 'ok  ' : f.warnOnly ? 'warn' : 'FAIL';
    console.log(
      `${mark}  ${f.name.padEnd(15)} ${f.detail}${!f.ok && f.fix && !options.fix ? '  (kiln doctor --fix repairs this)' : ''}`,
    );
  }
  return findings.some((f) => !f.ok && !f.warnOnly) ? 1 : 0;
}

export async function buildRuntimes(which: string): Promise<void> {
  const languages = which === 'all' ? [...LANGUAGE_NAMES] : [which];
  const { baseImages } = await Kiln.openStores({ log });
  for (const language of languages) {
    if (!isLanguageName(language)) {
      throw new KilnError(
        'unknown_runtime',
        `unknown runtime "${language}": use one of ${LANGUAGE_NAMES.join(', ')} or all`,
      );
    }
    const image = await baseImages.ensure(language);
    console.log(`${language}: ${image.manifestDigest} (${image.manifest.layers.length} layers)`);
    // The image its builds run in, when it has one (docs/DESIGN.md §8).
    if ((await languageNamed(language).recipe(RUNTIMES_DIR)).builder) {
      console.log(`${language} builder: ${(await baseImages.builder(language)).layers.length} layers`);
    }
  }
}
