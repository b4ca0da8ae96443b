import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SANDBOX_PATHS, type SandboxOutput } from '../../build/sandbox.js';
import { KilnError } from '../../errors.js';
import type { FunctionBuild, FunctionBuildInput } from '../language.js';

/** The node binary in the node builder (runtimes/node/recipe.json's layer). */
const NODE = '/usr/local/bin/node';
/** Kiln's build program in the builder image: runtimes/node/build/build.mjs. */
const BUILD_PROGRAM = `${SANDBOX_PATHS.tools}/build.mjs`;
/** Codes the build program may answer with; anything else becomes `build_failed`. */
const CODES = new Set(['entry_not_found', 'build_failed', 'invalid_bundle']);

/**
 * Node bundles are built by Kiln's build program (runtimes/node/build/) in the node
 * builder container: it resolves the entry (the handler, package.json, index.*), runs
 * esbuild confined to the bundle (every import's real path must be inside it), copies
 * assets, ships packages esbuild cannot bundle (native addons) as files, or with
 * `bundle: false` ships the files as they are. The host writes the job and reads back
 * only `result.json` and `fn/`, checked.
 */
export async function buildNode(input: FunctionBuildInput): Promise<FunctionBuild> {
  const builder = await input.builder();
  const jobDir = path.join(input.workDir, 'node-job');
  await mkdir(jobDir, { recursive: true, mode: 0o755 });
  await writeFile(
    path.join(jobDir, 'job.json'),
    JSON.stringify({ handler: input.handler, bundle: input.bundle }),
    { mode: 0o644 },
  );
  return input.sandbox.run(
    {
      what: 'node build',
      layers: builder.layers,
      args: [NODE, BUILD_PROGRAM],
      env: [
        ...builder.env,
        `KILN_BUILD_SRC=${SANDBOX_PATHS.bundle}`,
        `KILN_BUILD_OUT=${SANDBOX_PATHS.out}`,
        `KILN_BUILD_JOB=${SANDBOX_PATHS.job}`,
      ],
      cwd: SANDBOX_PATHS.bundle,
      bundleDir: input.srcDir,
      jobDir,
    },
    async (output) => {
      const result = await readResult(output);
      await output.copyTree('fn', input.outDir);
      return result;
    },
  );
}

/** The build program's answer, checked: it is the sandbox's output, as untrusted as the bundle. */
async function readResult(output: SandboxOutput): Promise<FunctionBuild> {
  const text = await output.readFile('result.json');
  let result: Record<string, unknown> | undefined;
  try {
    result = text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    result = undefined;
  }
  if (!result || typeof result !== 'object') {
    throw new KilnError(
      'build_failed',
      `the node build exited with ${output.exitCode} and no result${output.log ? `: ${output.log.trim().slice(-2000)}` : ''}`,
    );
  }
  if (result.ok !== true) {
    const code = typeof result.code === 'string' && CODES.has(result.code) ? result.code : 'build_failed';
    const message =
      typeof result.message === 'string' ? result.message.slice(0, 8000) : 'the node build failed';
    throw new KilnError(code, message);
  }
  const { handler, entry } = result;
  if (
    typeof handler !== 'string' ||
    !isHandlerPath(handler) ||
    typeof entry !== 'string' ||
    entry.length > 1024
  ) {
    throw new KilnError('build_failed', 'the node build answered a handler Kiln cannot use');
  }
  return { handler, entry };
}

function isHandlerPath(handler: string): boolean {
  return (
    handler.length <= 1024 &&
    !handler.startsWith('/') &&
    !handler.split('/').includes('..') &&
    !/[\0\n\\]/.test(handler)
  );
}
