import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, EXAMPLES, FIXTURES, ROOT, startTestGateway, type TestGateway } from '../harness.js';

const execFileP = promisify(execFile);
let t: TestGateway;
let scratch: string;

beforeAll(async () => {
  t = await startTestGateway();
  scratch = await mkdtemp(path.join(tmpdir(), 'kiln-lang-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
  await t?.close();
});

async function source(dir: string, files: Record<string, string>): Promise<string> {
  const full = path.join(scratch, dir);
  await mkdir(full, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(full, name), text);
  return full;
}

describe('python', () => {
  it('hello-python: a handler returning a str is a 200 whose body is the str (API Gateway 2.0)', async () => {
    expect((await deployDir(t.url, path.join(EXAMPLES, 'hello-python'))).status).toBe(201);
    const res = await fetch(`${t.url}/fn/hello-python/here?name=Guido`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('Hello, Guido! (python 3.11.2, path /here)\n');
  });

  it('lambda-python: reads query, path and JSON body from the v2 event', async () => {
    expect((await deployDir(t.url, path.join(EXAMPLES, 'lambda-python'))).status).toBe(201);
    const res = await fetch(`${t.url}/fn/lambda-python/cart/42?coupon=SAVE&coupon=MORE`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ price: 2 }, { price: 3.5 }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-handled-by')).toBe('lambda-python');
    expect(await res.json()).toMatchObject({
      method: 'POST',
      path: '/cart/42',
      query: { coupon: 'SAVE,MORE' },
      count: 2,
      total: 5.5,
      requestId: res.headers.get('x-kiln-request-id'),
    });
  });

  it('JSON results, the context object, and a handler that raises', async () => {
    expect(
      (
        await deployDir(t.url, path.join(FIXTURES, 'py-json'), {
          name: 'py-json',
          runtime: 'python',
          memoryMb: '96',
        })
      ).status,
    ).toBe(201);
    const list = await fetch(`${t.url}/fn/py-json/list`);
    expect(list.headers.get('content-type')).toBe('application/json');
    expect(await list.json()).toEqual([1, 'two', null]);
    const context = await fetch(`${t.url}/fn/py-json/`);
    expect(await context.json()).toEqual({
      remaining: true,
      name: 'py-json',
      version: '1',
      memory: '96',
      id: context.headers.get('x-kiln-request-id'),
    });
    const boom = await fetch(`${t.url}/fn/py-json/boom`);
    expect(boom.status).toBe(500);
    expect(boom.headers.get('x-kiln-error')).toBe('handler_error');
    expect(await boom.json()).toEqual({ message: 'Internal Server Error' });
    expect((await fetch(`${t.url}/fn/py-json/list`)).status).toBe(200);
  });

  it('concurrency 2: one instance runs two requests at once (the second releases the first)', async () => {
    const probes = path.join(ROOT, 'test/lambda/python');
    const spec = { name: 'py-concurrent', runtime: 'python', handler: 'http_probe.handler' };
    const res = await deployDir(t.url, probes, { ...spec, concurrency: '2', maxInstances: '1' });
    expect(res.status).toBe(201);
    expect((await fetch(`${t.url}/fn/py-concurrent/`)).status).toBe(200);
    const waiting = fetch(`${t.url}/fn/py-concurrent/wait?ms=15000`);
    const requests = async () => {
      const { instances } = (await (await fetch(`${t.url}/instances`)).json()) as {
        instances: { function: string; requests: number }[];
      };
      return instances.filter((i) => i.function === 'py-concurrent').reduce((n, i) => n + i.requests, 0);
    };
    while ((await requests()) < 2) await new Promise((r) => setTimeout(r, 20));
    const release = await fetch(`${t.url}/fn/py-concurrent/release`);
    expect(await release.text()).toBe('ok');
    const waited = await waiting;
    expect(await waited.text()).toBe('released');
    expect(waited.headers.get('x-kiln-instance')).toBe(release.headers.get('x-kiln-instance'));
  });

  it('puts a vendored site-packages dir on the path and passes env', async () => {
    const res = await deployDir(t.url, path.join(FIXTURES, 'py-vendored'), {
      name: 'py-vendored',
      runtime: 'python',
      env: JSON.stringify({ GREETING_STYLE: 'formal' }),
    });
    expect(res.status).toBe(201);
    expect(await (await fetch(`${t.url}/fn/py-vendored/`)).json()).toEqual({
      greeting: 'greetings, kiln, from a vendored package',
      env: 'formal',
    });
  });

  it.each([
    [
      'a syntax error',
      { 'handler.py': 'def handler(event, context)\n    return 1\n' },
      'handler_load_failed',
      "SyntaxError: expected ':'",
    ],
    [
      'an import error',
      { 'handler.py': 'import not_a_module_here\n' },
      'handler_load_failed',
      "No module named 'not_a_module_here'",
    ],
    [
      'an exception at import',
      { 'handler.py': 'raise RuntimeError("no luck")\n' },
      'handler_load_failed',
      'RuntimeError: no luck',
    ],
    [
      'a missing handler function',
      { 'handler.py': 'def other(event, context):\n    return 1\n' },
      'handler_not_found',
      'no function handler',
    ],
  ])('%s: 400 %s, and the previous version keeps serving', async (_what, files, code, text) => {
    const dir = await source(`py-${code}-${Object.values(files)[0]!.length}`, files);
    const res = await deployDir(t.url, dir, { name: 'hello-python', runtime: 'python' });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe(code);
    expect(res.body.error?.message).toContain(text);
    if (code === 'handler_load_failed' && !text.startsWith('SyntaxError')) {
      expect(res.body.error?.message).toContain('Traceback');
      expect(res.body.error?.message).not.toContain('/opt/kiln/shim');
    }
    expect(await (await fetch(`${t.url}/fn/hello-python/`)).text()).toContain('Hello, world!');
  });
});

describe('java', () => {
  it('hello-java: a class with handleRequest(event, context), compiled at deploy', async () => {
    expect((await deployDir(t.url, path.join(EXAMPLES, 'hello-java'))).status).toBe(201);
    const res = await fetch(`${t.url}/fn/hello-java/?name=Duke`);
    expect(res.status).toBe(200);
    // API Gateway's payload 2.0 rule for a result without statusCode (SHIM-PROTOCOL §3).
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toMatch(/^Hello, Duke! \(java 17\.[\d.]+, hello-java\)\n$/);
  });

  it('json-java: a Function<Map, Object> that echoes and transforms a JSON body', async () => {
    expect((await deployDir(t.url, path.join(EXAMPLES, 'json-java'))).status).toBe(201);
    const order = {
      id: 7,
      items: [
        { name: 'tea', price: 2.5, qty: 2 },
        { name: 'cake', price: 4, qty: 1 },
      ],
    };
    const res = await fetch(`${t.url}/fn/json-java/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(order),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-order-lines')).toBe('2');
    expect(await res.json()).toEqual({
      echo: order,
      lines: [
        { name: 'TEA', subtotal: 5 },
        { name: 'CAKE', subtotal: 4 },
      ],
      total: 9,
    });
  });

  it('ClassName::method, env, and a handler that throws', async () => {
    const res = await deployDir(t.url, path.join(FIXTURES, 'java-fn'), {
      name: 'shout',
      runtime: 'java',
      handler: 'Shout::loud',
      env: JSON.stringify({ SHOUT_SUFFIX: '!' }),
      memoryMb: '200',
    });
    expect(res.status).toBe(201);
    const loud = await fetch(`${t.url}/fn/shout/`, { method: 'POST', body: 'quiet please' });
    expect(await loud.json()).toEqual({ shout: 'QUIET PLEASE', env: '!', memory: 200, remaining: true });
    const failing = await deployDir(t.url, path.join(FIXTURES, 'java-fn'), {
      name: 'shout-fail',
      runtime: 'java',
      handler: 'Shout::fail',
    });
    expect(failing.status).toBe(201);
    const thrown = await fetch(`${t.url}/fn/shout-fail/`);
    // API Gateway's answer; the exception goes to the function's logs (SHIM-PROTOCOL §4).
    expect(thrown.status).toBe(500);
    expect(thrown.headers.get('x-kiln-error')).toBe('handler_error');
    expect(await thrown.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('an AWS Lambda handler (RequestHandler, Maven layout, package.Class::method) deploys unmodified', async () => {
    const res = await deployDir(t.url, path.join(FIXTURES, 'java-aws'), {
      name: 'orders-java',
      runtime: 'java',
      handler: 'com.example.orders.OrderFunction::handleRequest',
      memoryMb: '192',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const order = await fetch(`${t.url}/fn/orders-java/orders/7`, { method: 'POST', body: '{}' });
    expect(order.status).toBe(201);
    expect(order.headers.get('x-function')).toBe('orders-java');
    expect(await order.text()).toBe('POST /orders/7 192');
  });

  it('runs a prebuilt jar', async () => {
    const src = await source('jar-src', {
      'Echo.java':
        'public class Echo { public Object handleRequest(java.util.Map<String, Object> e) { return e.get("rawPath"); } }',
    });
    const classes = path.join(src, 'classes');
    await execFileP('javac', ['--release', '17', '-d', classes, path.join(src, 'Echo.java')]);
    const bundle = await source('jar-bundle', {});
    await execFileP('jar', ['cf', path.join(bundle, 'echo.jar'), '-C', classes, '.']);
    expect(
      (await deployDir(t.url, bundle, { name: 'echo-jar', runtime: 'java', handler: 'Echo' })).status,
    ).toBe(201);
    expect(await (await fetch(`${t.url}/fn/echo-jar/from/a/jar`)).text()).toBe('/from/a/jar');
  });

  it.each([
    [
      'a compile error',
      {
        'Broken.java':
          'public class Broken { public Object handleRequest(java.util.Map<String,Object> e) { return 1 } }',
      },
      'Broken',
      'build_failed',
      "Broken.java:1: error: ';' expected",
    ],
    [
      'a class that is not there',
      { 'Real.java': 'public class Real {}' },
      'Missing',
      'handler_not_found',
      'class Missing not found',
    ],
    [
      'a method that is not there',
      {
        'NoMethod.java':
          'public class NoMethod { public Object other(java.util.Map<String,Object> e) { return 1; } }',
      },
      'NoMethod',
      'handler_not_found',
      'has no public method handleRequest',
    ],
    [
      'a named method that is not there',
      {
        'Named.java':
          'public class Named { public Object handleRequest(java.util.Map<String,Object> e) { return 1; } }',
      },
      'Named::nope',
      'handler_not_found',
      'has no public method nope',
    ],
  ])('%s: 400, and the previous version keeps serving', async (_what, files, handler, code, text) => {
    const dir = await source(`java-${handler.replace(/\W/g, '')}`, files);
    const res = await deployDir(t.url, dir, { name: 'hello-java', runtime: 'java', handler });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe(code);
    expect(res.body.error?.message).toContain(text);
    expect(await (await fetch(`${t.url}/fn/hello-java/`)).text()).toContain('Hello, world!');
  });
});

describe('base images', () => {
  it('python and java share the os layer blob with node', async () => {
    const [node, python, java] = await Promise.all(
      (['node', 'python', 'java'] as const).map((l) => t.kiln.baseImages.ensure(l)),
    );
    expect(python!.manifest.layers[0]!.digest).toBe(node!.manifest.layers[0]!.digest);
    expect(java!.manifest.layers[0]!.digest).toBe(node!.manifest.layers[0]!.digest);
    const languageLayers = new Set([node, python, java].map((i) => i!.manifest.layers[1]!.digest));
    expect(languageLayers.size).toBe(3);
  });

  it("python's shim layer holds unchecked-hash bytecode of every shim module (none compiled at start)", async () => {
    const image = await t.kiln.baseImages.ensure('python');
    const shimDir = path.join(t.kiln.snapshots.path(image.manifest.layers[2]!.digest), 'opt/kiln/shim');
    const modules = (await readdir(shimDir)).filter((n) => n.endsWith('.py'));
    const pycs = await readdir(path.join(shimDir, '__pycache__'));
    expect(modules.length).toBeGreaterThan(1);
    for (const module of modules) {
      const pyc = pycs.find((n) => n.startsWith(`${module.slice(0, -3)}.cpython-`) && n.endsWith('.pyc'));
      expect(pyc, module).toBeDefined();
      // PEP 552: the 32-bit flags after the magic; 0b01 is hash-based without checking the source.
      expect((await readFile(path.join(shimDir, '__pycache__', pyc!))).readUInt32LE(4), module).toBe(1);
    }
  });
});

describe("the node shim's preloaded dense-memory.so (runtimes/node/native)", () => {
  it('is loaded in the instance, packs V8 pages into a few GiB of address space, and is not passed on', async () => {
    const dir = await source('dense-memory', {
      'kiln.json': JSON.stringify({ name: 'dense-memory', runtime: 'node' }),
      'index.mjs': `
        import { execFileSync } from 'node:child_process';
        import { readFileSync } from 'node:fs';
        export default {
          fetch() {
            // Enough heap for V8 to map a few dozen of its 256 KiB pages.
            globalThis.keep = Array.from({ length: 200000 }, (_, i) => ({ i, s: 'x' + i }));
            const maps = readFileSync('/proc/self/maps', 'utf8').trim().split('\\n');
            const anonymous = maps.map((l) => l.trim().split(/\\s+/)).filter((f) => f.length === 5 && f[1] === 'rw-p');
            const range = (f) => f[0].split('-').map((a) => parseInt(a, 16));
            const gib = new Set(anonymous.map((f) => Math.floor(range(f)[0] / 2 ** 30)));
            return Response.json({
              loaded: maps.some((l) => l.endsWith('/opt/kiln/shim/dense-memory.so')),
              anonymousMiB: anonymous.reduce((sum, f) => sum + range(f)[1] - range(f)[0], 0) / 2 ** 20,
              gib: gib.size,
              env: process.env.LD_PRELOAD ?? null,
              child: execFileSync('/bin/sh', ['-c', 'echo "[$LD_PRELOAD]"'], { encoding: 'utf8' }).trim(),
            });
          },
        };`,
    });
    expect((await deployDir(t.url, dir)).status).toBe(201);
    const res = await fetch(`${t.url}/fn/dense-memory/`);
    expect(res.status).toBe(200);
    const got = (await res.json()) as Record<string, unknown>;
    expect(got, JSON.stringify(got)).toMatchObject({ loaded: true, env: null, child: '[]' });
    // V8's random hints scatter its 256 KiB pages over 64 TiB: one distinct GiB of address
    // space for nearly every page without the library (27 for an idle node 22). Without hints
    // the kernel packs them below the mmap base, beside the libraries and the brk heap.
    expect(got.anonymousMiB as number).toBeGreaterThan(16);
    expect(got.gib as number).toBeLessThanOrEqual(6);
  });
});

describe('stem cells for python and java', () => {
  let s: TestGateway;
  beforeAll(async () => {
    s = await startTestGateway({ stemCells: 1 });
  });
  afterAll(() => s?.close());

  it.each([
    ['python', 'py-json', {}, '/list', '[1, "two", null]'],
    [
      'java',
      'java-fn',
      { handler: 'Shout::loud', env: JSON.stringify({ SHOUT_SUFFIX: '?' }) },
      '/',
      '"env":"?"',
    ],
  ])(
    '%s: the first request after deploy is served by a specialized stem cell',
    async (runtime, fixture, extra, p, text) => {
      // Ask for the language's stem cells with a first deploy, then wait for them.
      await deployDir(s.url, path.join(FIXTURES, fixture), { name: `${runtime}-warmup`, runtime, ...extra });
      await s.kiln.pool.stemCells.whenFull();
      const res = await deployDir(s.url, path.join(FIXTURES, fixture), {
        name: `${runtime}-stem`,
        runtime,
        ...extra,
      });
      expect(res.status).toBe(201);
      const first = await fetch(`${s.url}/fn/${runtime}-stem${p}`);
      // The deploy's own start took the stem cell; its first request finds it warm.
      expect(first.headers.get('x-kiln-prewarmed')).toBe('true');
      expect(await first.text()).toContain(text);
      const { instances } = (await (await fetch(`${s.url}/instances`)).json()) as {
        instances: { id: string; startedAs: string }[];
      };
      const served = instances.find((i) => i.id === first.headers.get('x-kiln-instance'));
      expect(served?.startedAs).toBe('stem');
    },
  );
});
