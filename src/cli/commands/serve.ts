import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { chooseTokenSource } from '../../auth/bind-policy.js';
import { loadOrCreateToken } from '../../auth/token-file.js';
import { KilnError } from '../../errors.js';
import { startGateway } from '../../gateway/server.js';
import { Kiln } from '../../kiln.js';
import { installTracing } from '../../telemetry/otel-sdk.js';
import { deployFields } from '../deploy-fields.js';
import { packDir } from '../pack-dir.js';
import { stderrLog } from '../stderr-log.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the gateway (HTTP API and invoke path)')
    .option('--host <host>', 'address to listen on', process.env.KILN_HOST || '127.0.0.1')
    .option('--port <port>', 'port to listen on', process.env.KILN_PORT || '8080')
    .option('--examples <dir>', 'deploy every function dir in <dir> after starting')
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
  insecureNoAuth?: boolean;
}

async function serve(options: ServeOptions): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new KilnError('invalid_port', `"${options.port}" is not a port`);
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
  const gateway = await startGateway(kiln, options.host, port, { token });
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
  const stop = async () => {
    stderrLog('stopping: closing the gateway and its instances');
    await gateway.close();
    await kiln.close();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (options.examples) await deployExamples(kiln, options.examples, gateway.url);
}

async function deployExamples(kiln: Kiln, dir: string, url: string): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const fnDir = path.join(dir, name);
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
