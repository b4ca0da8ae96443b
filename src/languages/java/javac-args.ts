import { KilnError } from '../../errors.js';

/**
 * javac's flags for functions and the shim. `-proc:none`: no annotation processor runs
 * (a jar's `META-INF/services/javax.annotation.processing.Processor` would otherwise run
 * its code inside javac). `-implicit:none`: no class file for a source javac found on its
 * own. `-XDstringConcat=inline`: string concatenation without invokedynamic, whose
 * bootstrap costs a function's first request ~25 ms (measured with -Xlog:class+load).
 */
export const JAVAC_FLAGS = [
  '--release',
  '17',
  '-nowarn',
  '-XDstringConcat=inline',
  '-encoding',
  'UTF-8',
  '-proc:none',
  '-implicit:none',
];

/** JVM flags for the one short javac run: C1 only, the serial GC, no perf data file. */
export const JAVAC_JVM_FLAGS = ['-J-XX:TieredStopAtLevel=1', '-J-XX:+UseSerialGC', '-J-XX:-UsePerfData'];

/**
 * A javac argument file (`javac @file`): Kiln's options as they are, then each source as a
 * quoted `./path`. In an argument file javac splits on whitespace and reads quotes and
 * backslashes (JDK's CommandLine.Tokenizer); it does not expand `@` again. The `./` keeps
 * a name like `@opts.java` or `-processorpath` from ever being an @file or an option.
 */
export function javacArgFile(options: string[], sources: string[]): string {
  const lines = options.map((o) => (/[\s"'\\#]/.test(o) ? quote(o) : o));
  for (const source of sources) lines.push(quote(`./${checkedName(source)}`));
  return `${lines.join('\n')}\n`;
}

/** A bundle path Kiln writes into a javac argument file or a line list. */
export function checkedName(rel: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/["\\\u0000-\u001f\u007f]/.test(rel) || rel.startsWith('/')) {
    throw new KilnError(
      'invalid_bundle',
      `"${rel.slice(0, 200)}": a Java file name may not hold quotes, backslashes or control characters`,
    );
  }
  return rel;
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
