import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { chooseTokenSource } from '../../auth/bind-policy.js';
import { loadOrCreateToken } from '../../auth/token-file.js';
import { packDir } from '../../build/pack-dir.js';
import { pathExists } from '../../disk.js';
import { KilnError } from '../../errors.js';
import { deployFields } from '../../functions/deploy-fields.js';
import { startGateway } from '../../gateway/server.js';
import { Kiln } from '../../kiln.js';
import { loadStackFile } from '../../stack/stack-loader.js';
import { runInDependencyOrder } from '../../stack/stack-order.js';
import { installTracing } from '../../telemetry/otel-sdk.js';
import { stderrLog } from '../stderr-log.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the gateway (HTTP API and invoke path)')
    .option('--host <host>', 'address to listen on', process.env.KILN_HOST || '127.0.0.1')
    .option('--port <port>', 'port to listen on', process.env.KILN_PORT || '8080')
    .option('--examples <dir>', 'deploy every function dir in <dir> after starting')
    .option(
      '--grace <ms>',
      'on SIGTERM/SIGINT, how long requests in flight may take to finish',
      process.env.KILN_SHUTDOWN_GRACE_MS || '30000',
    )
    .option(
      '--max-connections <n>',
      'open client connections in all (at most half the open-file limit)',
      process.env.KILN_MAX_CONNECTIONS || '16384',
    )
    .option(
      '--max-connections-per-client <n>',
      'open connections from one client address (raise it behind a reverse proxy)',
      process.env.KILN_MAX_CONNECTIONS_PER_CLIENT || '1024',
    )
    .option(
      '--insecure-no-auth',
      'serve the control plane without a token (anyone who reaches the port can deploy code)',
    )
    .action(serve);
}

interface ServeOptions {
  host: string;
  port: string;
  examples?: string;
  grace: string;
  maxConnections: string;
  maxConnectionsPerClient: string;
  insecureNoAuth?: boolean;
}

/** A positive whole number from a flag, or a 400-style error naming the flag and its env. */
function positiveCount(value: string, flag: string, env: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new KilnError(
      'invalid_connection_limit',
      `${flag} (${env}) must be a whole number ≥ 1, got "${value}"`,
    );
  return n;
}

async function serve(options: ServeOptions): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new KilnError('invalid_port', `"${options.port}" is not a port`);
  const graceMs = Number(options.grace);
  if (!Number.isInteger(graceMs) || graceMs < 0)
    throw new KilnError(
      'invalid_grace',
      `--grace (KILN_SHUTDOWN_GRACE_MS) must be whole ms ≥ 0, got "${options.grace}"`,
    );
  const connections = {
    maxConnections: positiveCount(options.maxConnections, '--max-connections', 'KILN_MAX_CONNECTIONS'),
    maxConnectionsPerClient: positiveCount(
      options.maxConnectionsPerClient,
      '--max-connections-per-client',
      'KILN_MAX_CONNECTIONS_PER_CLIENT',
    ),
  };
  // Decided before anything starts: a refused configuration leaves no trace.
  const source = chooseTokenSource({
    host: options.host,
    envToken: process.env.KILN_TOKEN,
    insecureNoAuth: options.insecureNoAuth === true,
  });
  // Before anything makes a span: with no OTLP endpoint set this loads nothing.
  const tracing = await installTracing();
  const kiln = await Kiln.open({ log: stderrLog });
  let token: string | undefined;
  if (source.kind === 'env') token = source.token;
  else if (source.kind === 'file') token = await loadOrCreateToken(kiln.data.controlToken);
  else stderrLog(`WARNING: ${source.warning}`);
  const gateway = await startGateway(kiln, options.host, port, { token, connections });
  if (tracing) stderrLog(`tracing: spans go to ${tracing.shownUrl}`);
  const auth =
    source.kind === 'env'
      ? 'token from KILN_TOKEN'
      : source.kind === 'file'
        ? `token in ${kiln.data.controlToken}`
        : 'NO AUTH';
  stderrLog(
    `gateway listening on ${gateway.url} (data ${kiln.data.root}, ${kiln.runtime.driver.name}, cgroup ${kiln.runtime.cgroups.version}, ${auth})`,
  );
  // SIGTERM (or SIGINT): stop accepting, let requests in flight finish within the grace
  // period, then stop every instance and exit 0 — what Kubernetes and systemd expect.
  // A second signal cuts the grace period short.
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      stderrLog(`${signal} again: cutting the requests still in flight`);
      await gateway.close();
      return;
    }
    stopping = true;
    // drain() closes the listening socket before it first waits: the line below is true when logged.
    const drained = gateway.drain(graceMs);
    stderrLog(`${signal}: not accepting connections; waiting up to ${graceMs} ms for requests in flight`);
    const { cut } = await drained;
    stderrLog(
      `stopping instances${cut ? ` (${cut} request(s) cut at the end of the grace period)` : ' (every request answered)'}`,
    );
    await kiln.close();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.on('SIGINT', (s) => void stop(s));
  process.on('SIGTERM', (s) => void stop(s));
  if (options.examples) await deployExamples(kiln, options.examples, gateway.url);
}

async function deployExamples(kiln: Kiln, dir: string, url: string): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const fnDir = path.join(dir, name);
    // A dir with a kiln.yaml is a stack (examples/stack): its functions, not the dir, deploy.
    if (await pathExists(path.join(fnDir, 'kiln.yaml'))) {
      await deployStackExample(kiln, path.join(fnDir, 'kiln.yaml'), url);
      continue;
    }
    try {
      const fields = await deployFields(fnDir, {});
      const result = await kiln.deployer.deploy({ bundle: await packDir(fnDir), fields });
      stderrLog(
        `deployed ${result.record.name} v${result.version.version}: curl ${url}/fn/${result.record.name}/`,
      );
    } catch (err) {
      stderrLog(`example ${name} did not deploy: ${(err as Error).message}`);
    }
  }
}

async function deployStackExample(kiln: Kiln, file: string, url: string): Promise<void> {
  try {
    const stack = await loadStackFile(file);
    for (const name of stack.volumes) if (!kiln.volumes.has(name)) await kiln.volumes.create(name);
    // In `dependsOn` order, as `kiln apply` deploys (a function whose dependency failed is skipped).
    await runInDependencyOrder(
      stack.functions.map((fn) => ({
        name: fn.name,
        dependsOn: fn.dependsOn,
        run: async () => {
          try {
            const result = await kiln.deployer.deploy({ bundle: await packDir(fn.absDir), fields: fn.query });
            stderrLog(
              `deployed ${fn.name} v${result.version.version} (stack ${file}): curl ${url}/fn/${fn.name}/`,
            );
            return true;
          } catch (err) {
            stderrLog(`stack example ${fn.name} did not deploy: ${(err as Error).message}`);
            return false;
          }
        },
      })),
      {
        concurrency: 1,
        onSkip: (name, failed) =>
          stderrLog(
            `stack example ${name} not deployed: it depends on ${failed.join(', ')}, which did not deploy`,
          ),
      },
    );
  } catch (err) {
    stderrLog(`stack ${file} did not deploy: ${(err as Error).message}`);
  }
}
