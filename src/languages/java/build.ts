import { execFile } from 'node:child_process';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KilnError } from '../../errors.js';
import { listTree } from '../../image/layer-tar.js';
import type { FunctionBuild } from '../language.js';

const execFileP = promisify(execFile);
// -XDstringConcat=inline: string concatenation without invokedynamic, whose bootstrap costs
// the function's first request ~25 ms (measured with -Xlog:class+load).
const JAVAC_FLAGS = ['--release', '17', '-nowarn', '-XDstringConcat=inline', '-encoding', 'UTF-8'];

/**
 * Java bundles are `.java` sources, compiled here with javac against the shim's jar (for
 * the Lambda Java API, `com.amazonaws.services.lambda.runtime`) and any jars in the bundle,
 * or prebuilt `.jar` files. Classes go to /fn/classes, jars to /fn/lib. The handler is
 * `ClassName` or `ClassName::method`; a bundle with a single top-level source file may leave
 * it out.
 */
export async function buildJava(
  srcDir: string,
  outDir: string,
  shimJar: string,
  handler?: string,
): Promise<FunctionBuild> {
  const files = await listTree(srcDir);
  const sources = files.filter((f) => f.endsWith('.java'));
  const jars = files.filter((f) => f.endsWith('.jar'));
  if (sources.length === 0 && jars.length === 0) {
    throw new KilnError('entry_not_found', 'a java bundle needs .java sources or a .jar');
  }
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
  const lib = path.join(outDir, 'lib');
  if (jars.length) {
    await mkdir(lib, { recursive: true });
    for (const jar of jars) await cp(path.join(srcDir, jar), path.join(lib, path.basename(jar)));
  }
  if (sources.length) {
    const classes = path.join(outDir, 'classes');
    await mkdir(classes, { recursive: true });
    const classpath = [shimJar, ...jars.map((j) => path.join(srcDir, j))].join(':');
    try {
      await execFileP('javac', [...JAVAC_FLAGS, '-cp', classpath, '-d', classes, ...sources], {
        cwd: srcDir,
        maxBuffer: 16 << 20,
      });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; code?: string; message: string };
      if (e.code === 'ENOENT') {
        throw new KilnError(
          'build_failed',
          'javac is not installed on the Kiln host (apt-get install -y openjdk-17-jdk-headless)',
          500,
        );
      }
      throw new KilnError(
        'build_failed',
        `javac failed:\n${(e.stderr || e.stdout || e.message).trim().slice(0, 4000)}`,
      );
    }
  }
  const source =
    sources.find((s) => path.basename(s, '.java') === className.split('.').pop()) ?? jars[0] ?? className;
  return { handler: handler ?? className, entry: source };
}
