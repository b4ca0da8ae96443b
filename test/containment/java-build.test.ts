import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES, TEST_CACHE } from '../harness.js';
import { GatewayProcess, pathWithout } from './gateway-process.js';

const execFileP = promisify(execFile);

/**
 * issue 8 §1: a bundle's jar held an annotation processor, and javac ran it as root on
 * the host, where it read the gateway's KILN_TOKEN; a file named `@opts.java` was read as
 * javac options. Here both go through a real gateway process that holds a token and can
 * read a root-only host file, on a PATH with no JDK at all (the host needs none).
 */
const runId = randomBytes(4).toString('hex');
const work = path.join(TEST_CACHE, 'runs', `java-containment-${runId}`);
const token = `token-${randomBytes(12).toString('hex')}`;
const secretDir = path.join(work, 'root-only');
const secretFile = path.join(secretDir, 'secret');
const secret = `secret-${randomBytes(12).toString('hex')}`;
const canary = path.join(work, 'canary');
let gateway: GatewayProcess;
let evilJar: Buffer;

const HELLO = `public class Hello {
  public Object handleRequest(java.util.Map<String, Object> event) { return "hello from " + event.get("rawPath"); }
}
`;

/** A processor that, wherever it runs, writes what it can reach to the canary and into the build's output. */
function processorSource(): string {
  return `package evil;
import java.nio.file.*;
import java.util.Set;
import javax.annotation.processing.*;
import javax.lang.model.SourceVersion;
import javax.lang.model.element.TypeElement;
import javax.tools.StandardLocation;

@SupportedAnnotationTypes("*")
public class Evil extends AbstractProcessor {
  @Override public SourceVersion getSupportedSourceVersion() { return SourceVersion.latestSupported(); }
  @Override public synchronized void init(ProcessingEnvironment env) {
    super.init(env);
    String token = String.valueOf(System.getenv("KILN_TOKEN"));
    String secret;
    try { secret = Files.readString(Path.of(${JSON.stringify(secretFile)})); } catch (Exception e) { secret = "unreadable"; }
    String canary = System.getProperty("kiln.canary", ${JSON.stringify(canary)});
    try { Files.writeString(Path.of(canary), "RAN " + token + " " + secret); } catch (Exception e) { }
    try (var w = env.getFiler().createResource(StandardLocation.CLASS_OUTPUT, "", "leak.txt").openWriter()) {
      w.write("LEAK " + token + " " + secret);
    } catch (Exception e) { }
  }
  @Override public boolean process(Set<? extends TypeElement> annotations, RoundEnvironment round) { return false; }
}
`;
}

beforeAll(async () => {
  await mkdir(secretDir, { recursive: true, mode: 0o700 });
  await writeFile(secretFile, secret, { mode: 0o600 });
  // The jar is built here with the host's JDK: a test-only dependency (README, Tests).
  const src = path.join(work, 'evil-src');
  await mkdir(path.join(src, 'evil'), { recursive: true });
  await mkdir(path.join(src, 'classes/META-INF/services'), { recursive: true });
  await writeFile(path.join(src, 'evil/Evil.java'), processorSource());
  await execFileP('javac', [
    '--release',
    '17',
    '-d',
    path.join(src, 'classes'),
    path.join(src, 'evil/Evil.java'),
  ]);
  await writeFile(
    path.join(src, 'classes/META-INF/services/javax.annotation.processing.Processor'),
    'evil.Evil\n',
  );
  await execFileP('jar', ['cf', path.join(src, 'evil.jar'), '-C', path.join(src, 'classes'), '.']);
  evilJar = await readFile(path.join(src, 'evil.jar'));
  const noJdk = await pathWithout(
    path.join(work, 'bin'),
    /^(java|javac|jar|jshell|javadoc|jlink|jdeps|jarsigner|keytool|serialver|jcmd|jps|jstat|jmap|jstack|jhsdb|jdb|jfr|jconsole|javap|jdeprscan|jimage|jpackage|jrunscript|jinfo|jstatd|rmiregistry|jwebserver)$/,
  );
  gateway = await GatewayProcess.start({ KILN_TOKEN: token, PATH: noJdk });
});

afterAll(async () => {
  await gateway?.remove();
  await rm(work, { recursive: true, force: true });
});

async function bundle(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = path.join(work, name);
  for (const [p, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), body);
  }
  return dir;
}

it('the processor fixture is live: with annotation processing on, plain javac runs it', async () => {
  const control = path.join(work, 'control-canary');
  const dir = await bundle('control', { 'Hello.java': HELLO, 'lib/evil.jar': evilJar });
  await execFileP(
    'javac',
    [
      `-J-Dkiln.canary=${control}`,
      '-cp',
      path.join(dir, 'lib/evil.jar'),
      '-d',
      path.join(dir, 'out'),
      path.join(dir, 'Hello.java'),
    ],
    { env: { ...process.env, KILN_TOKEN: token } },
  );
  expect(await readFile(control, 'utf8')).toBe(`RAN ${token} ${secret}`);
  expect(existsSync(path.join(dir, 'out/leak.txt'))).toBe(true);
});

describe('a deploy runs no bundle content on the host', () => {
  it('the gateway has no JDK on its PATH, and a Java function deploys and answers', async () => {
    const res = await gateway.deploy(path.join(EXAMPLES, 'hello-java'), { name: 'hello-java' });
    expect(res.status, res.text).toBe(201);
    const answer = await fetch(`${gateway.url}/fn/hello-java/?name=NoJdk`);
    expect(await answer.text()).toContain('Hello, NoJdk!');
  });

  it('lib/evil.jar with an annotation processor: deployed, the processor never ran (no canary, nothing leaked into the layer)', async () => {
    const dir = await bundle('evil-jar', { 'Hello.java': HELLO, 'lib/evil.jar': evilJar });
    const res = await gateway.deploy(dir, { name: 'evil-jar', runtime: 'java', handler: 'Hello' });
    expect(res.status, res.text).toBe(201);
    expect(existsSync(canary)).toBe(false);
    const layer = await gateway.layerContent(String(res.body.layer));
    expect(layer).toContain('Hello.class');
    expect(layer).not.toContain('leak.txt');
    expect(layer).not.toContain('LEAK');
    expect(layer).not.toContain(token);
    expect(layer).not.toContain(secret);
    expect(await (await fetch(`${gateway.url}/fn/evil-jar/x`)).text()).toBe('hello from /x');
  });

  it('@opts.java asking for the processor: a source to javac, never its options (400 build_failed), and no canary', async () => {
    const dir = await bundle('evil-opts', {
      'Hello.java': HELLO,
      'lib/evil.jar': evilJar,
      '@opts.java': '-processorpath lib/evil.jar -processor evil.Evil -J-Dkiln.canary=/tmp/x\n',
      '-processorpath': 'lib/evil.jar\n',
    });
    const res = await gateway.deploy(dir, { name: 'evil-opts', runtime: 'java', handler: 'Hello' });
    expect(res.status, res.text).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'build_failed' } });
    expect(res.text).toContain('@opts.java');
    expect(res.text).not.toContain(token);
    expect(existsSync(canary)).toBe(false);
  });

  it('a build that does not finish within the deadline is stopped: 400 build_timeout, the old version serves', async () => {
    // 20 000 classes keep javac busy far longer than a 1.5 s deadline (1500 did not on a quiet,
    // faster machine: the build finished in time). The old version is deployed before the
    // deadline is set (a gateway restart on the same data dir): under a loaded full run even
    // hello-node's build took over 1.5 s.
    const slow = await GatewayProcess.start();
    try {
      const files: Record<string, string> = { 'Hello.java': HELLO };
      const classes = 20_000;
      const perFile = 100;
      for (let file = 0; file < classes / perFile; file++) {
        let source = '';
        for (let i = file * perFile; i < (file + 1) * perFile; i++)
          source += `class C${i} { int f(int x) { return x * ${i} + C${(i + 1) % classes}.g(); } static int g() { return ${i}; } }\n`;
        files[`gen/F${file}.java`] = source;
      }
      expect((await slow.deploy(path.join(EXAMPLES, 'hello-java'), { name: 'slowfn' })).status).toBe(201);
      await slow.restartWith({ KILN_BUILD_TIMEOUT_MS: '1500' });
      const res = await slow.deploy(await bundle('slow', files), {
        name: 'slowfn',
        runtime: 'java',
        handler: 'Hello',
      });
      expect(res.status, res.text).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'build_timeout' } });
      const served = await fetch(`${slow.url}/fn/slowfn/?name=old`);
      expect(served.headers.get('x-kiln-version')).toBe('1');
    } finally {
      await slow.remove();
    }
  });
});
