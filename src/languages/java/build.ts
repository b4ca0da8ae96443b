import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUILDER_EMPTY_DIR } from '../../build/builder-layer.js';
import { SANDBOX_PATHS } from '../../build/sandbox.js';
import { SHIM_DIR } from '../../build/shim-layer.js';
import { KilnError } from '../../errors.js';
import { listTree } from '../../image/layer-tar.js';
import type { FunctionBuild, FunctionBuildInput } from '../language.js';
import { checkedName, JAVAC_FLAGS, javacArgFile } from './javac-args.js';

/** Kiln's build step in the java builder image: runtimes/java/build/build.sh. */
const BUILD_SCRIPT = `${SANDBOX_PATHS.tools}/build.sh`;

/**
 * Java bundles are `.java` sources, compiled with javac against the shim's jar (for the
 * Lambda Java API, `com.amazonaws.services.lambda.runtime`) and the bundle's jars, or
 * prebuilt `.jar` files. Classes go to /fn/classes, jars to /fn/lib, every other file
 * (resources) to /fn as it is in the bundle.
 *
 * The host only lists the bundle's file names and writes javac's argument file (see
 * `javacArgFile`); javac and the jar copies run in the java builder container
 * (runtimes/java/build/build.sh), which the host needs no JDK for. The handler is
 * `ClassName` or `ClassName::method`; a bundle with a single top-level source file may
 * leave it out. Java's layout needs no rule: every source is compiled wherever it is.
 */
export async function buildJava(input: FunctionBuildInput, shimJar: string): Promise<FunctionBuild> {
  const files = await listTree(input.srcDir);
  const sources = files.filter((f) => f.endsWith('.java'));
  const jars = files.filter((f) => f.endsWith('.jar'));
  if (sources.length === 0 && jars.length === 0) {
    throw new KilnError('entry_not_found', 'a java bundle needs .java sources or a .jar');
  }
  const handler = input.handler;
  let className = handler?.split('::')[0];
  if (!className) {
    const top = sources.filter((s) => !s.includes('/'));
    if (top.length !== 1) {
      throw new KilnError(
        'entry_not_found',
        'name the handler class: handler=ClassName or handler=ClassName::method',
      );
    }
    className = path.basename(top[0]!, '.java');
  }
  if (!/^[\w$.]+$/.test(className))
    throw new KilnError('invalid_spec', `"${className}" is not a Java class name`);
  for (const jar of jars) {
    if (checkedName(jar).includes(':')) {
      throw new KilnError(
        'invalid_bundle',
        `"${jar}": a jar's name may not hold ":" (javac's class path separator)`,
      );
    }
  }

  const jobDir = path.join(input.workDir, 'java-job');
  await mkdir(jobDir, { recursive: true, mode: 0o755 });
  await writeFile(path.join(jobDir, 'jars'), jars.map((j) => `${j}\n`).join(''), { mode: 0o644 });
  const classpath = [`${SANDBOX_PATHS.shim}/${shimJar}`, ...jars.map((j) => `./${j}`)].join(':');
  const args = sources.length
    ? javacArgFile(
        [
          ...JAVAC_FLAGS,
          '-sourcepath',
          BUILDER_EMPTY_DIR,
          '-cp',
          classpath,
          '-d',
          `${SANDBOX_PATHS.out}/fn/classes`,
        ],
        sources,
      )
    : '';
  await writeFile(path.join(jobDir, 'javac.args'), args, { mode: 0o644 });

  const builder = await input.builder();
  await input.sandbox.run(
    {
      what: 'java build',
      layers: builder.layers,
      args: ['/bin/sh', BUILD_SCRIPT],
      env: builder.env,
      cwd: SANDBOX_PATHS.bundle,
      bundleDir: input.srcDir,
      jobDir,
      shimDir: path.join(input.shimDir, SHIM_DIR),
    },
    async (output) => {
      if (output.exitCode !== 0) {
        const log = output.log.replace(/^\.\//gm, '').trim();
        throw new KilnError(
          'build_failed',
          `javac failed:\n${log.slice(-4000) || `exit code ${output.exitCode}`}`,
        );
      }
      await output.copyTree('fn', input.outDir);
    },
  );
  const source =
    sources.find((s) => path.basename(s, '.java') === className.split('.').pop()) ?? jars[0] ?? className;
  return { handler: handler ?? className, entry: source };
}
