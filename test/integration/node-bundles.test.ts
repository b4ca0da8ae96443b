import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployBytes, deployDir, startTestGateway, type TestGateway } from '../harness.js';
import { rawTarGz } from '../tar-builder.js';

const execFileP = promisify(execFile);
let t: TestGateway;
let scratch: string;

beforeAll(async () => {
  t = await startTestGateway();
  scratch = await mkdtemp(path.join(tmpdir(), 'kiln-nodebundles-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
  await t?.close();
});

async function source(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = path.join(scratch, name);
  for (const [p, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), body);
  }
  return dir;
}

/** The function layer of the active version, as the image store holds it. */
async function layerFiles(name: string): Promise<string[]> {
  const layer = t.kiln.snapshots.path(t.kiln.functions.active(name).layer);
  return (await readdir(path.join(layer, 'fn'), { recursive: true })).map(String).sort();
}

describe('the bundle layout is kept (issue 10)', () => {
  it('node: handler src/lambda.handler in a bundle holding only src/', async () => {
    const dir = await source('src-only-node', {
      'src/lambda.mjs':
        'export const handler = async (event) => ({ statusCode: 200, body: "from src " + event.rawPath });',
    });
    const res = await deployDir(t.url, dir, {
      name: 'src-only',
      runtime: 'node',
      handler: 'src/lambda.handler',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await (await fetch(`${t.url}/fn/src-only/x`)).text()).toBe('from src /x');
  });

  it('python: handler src.app.handler in a bundle holding only src/', async () => {
    const dir = await source('src-only-py', {
      'src/app.py': 'def handler(event, context):\n    return {"statusCode": 200, "body": "py from src"}\n',
    });
    const res = await deployDir(t.url, dir, {
      name: 'src-only-py',
      runtime: 'python',
      handler: 'src.app.handler',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await (await fetch(`${t.url}/fn/src-only-py/`)).text()).toBe('py from src');
  });

  it('a bundle that is one top-level dir (tar czf b.tgz myfn/) is that dir, with its kiln.json', async () => {
    const gz = rawTarGz([
      { path: 'myfn', type: 'Directory' },
      { path: 'myfn/kiln.json', body: '{"name":"lone-dir","runtime":"node"}' },
      { path: 'myfn/index.mjs', body: 'export default { fetch: () => new Response("lifted") };' },
      { path: 'myfn/assets/a.txt', body: 'asset' },
    ]);
    const res = await deployBytes(t.url, gz);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await (await fetch(`${t.url}/fn/lone-dir/`)).text()).toBe('lifted');
    expect(await layerFiles('lone-dir')).toEqual(['assets', 'assets/a.txt', 'kiln.bundle.mjs']);
  });
});

describe('native addons (issue 10)', () => {
  it('a package with a compiled .node addon ships as files in /fn/node_modules and loads', async () => {
    // A real N-API addon, compiled here against the host's node headers (N-API is stable
    // across Node versions, so it loads in the image's Node 22).
    const pkg = path.join(scratch, 'addon-src');
    await mkdir(path.join(pkg, 'build/Release'), { recursive: true });
    await writeFile(
      path.join(pkg, 'addon.cc'),
      `#include <node_api.h>
static napi_value Hello(napi_env env, napi_callback_info info) {
  napi_value result;
  napi_create_string_utf8(env, "hello from a native addon", NAPI_AUTO_LENGTH, &result);
  return result;
}
static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "hello", NAPI_AUTO_LENGTH, Hello, nullptr, &fn);
  napi_set_named_property(env, exports, "hello", fn);
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
`,
    );
    const headers = path.resolve(path.dirname(process.execPath), '..', 'include', 'node');
    await execFileP('g++', [
      '-shared',
      '-fPIC',
      '-O2',
      '-DNODE_GYP_MODULE_NAME=addon',
      `-I${headers}`,
      path.join(pkg, 'addon.cc'),
      '-o',
      path.join(pkg, 'build/Release/addon.node'),
    ]);
    const dir = await source('native', {
      'node_modules/kiln-addon/package.json':
        '{"name":"kiln-addon","version":"1.0.0","main":"index.js","gypfile":true}',
      'node_modules/kiln-addon/binding.gyp': '{"targets":[{"target_name":"addon","sources":["addon.cc"]}]}',
      'node_modules/kiln-addon/index.js': 'module.exports = require("./build/Release/addon.node");',
      'node_modules/kiln-addon/build/Release/addon.node': await readFile(
        path.join(pkg, 'build/Release/addon.node'),
      ),
      'node_modules/tiny/package.json': '{"name":"tiny","main":"index.js"}',
      'node_modules/tiny/index.js': 'module.exports = (s) => s.toUpperCase();',
      'index.mjs':
        'import addon from "kiln-addon";\nimport tiny from "tiny";\nexport default { fetch: () => new Response(tiny(addon.hello())) };',
    });
    const res = await deployDir(t.url, dir, { name: 'native', runtime: 'node' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await (await fetch(`${t.url}/fn/native/`)).text()).toBe('HELLO FROM A NATIVE ADDON');
    const files = await layerFiles('native');
    expect(files).toContain('node_modules/kiln-addon/build/Release/addon.node');
    // The package esbuild could bundle is in the bundle, not shipped as files.
    expect(files.filter((f) => f.startsWith('node_modules/tiny'))).toEqual([]);
  });
});

describe('python compiled extensions (issue 10)', () => {
  it('a vendored package with a C extension in site-packages/ loads', async () => {
    // A real extension module, compiled here against Debian's Python 3.11 headers (the
    // image's Python is bookworm's 3.11) with the stable ABI, as a wheel's abi3 .so is.
    const src = path.join(scratch, 'ext-src');
    await mkdir(src, { recursive: true });
    await writeFile(
      path.join(src, 'fastmath.c'),
      `#define Py_LIMITED_API 0x030B0000
#include <Python.h>
static PyObject *square(PyObject *self, PyObject *arg) {
  long n = PyLong_AsLong(arg);
  if (n == -1 && PyErr_Occurred()) return NULL;
  return PyLong_FromLong(n * n);
}
static PyMethodDef methods[] = {{"square", square, METH_O, "n * n"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastmath", NULL, -1, methods};
PyMODINIT_FUNC PyInit__fastmath(void) { return PyModule_Create(&module); }
`,
    );
    const so = path.join(src, '_fastmath.abi3.so');
    await execFileP('gcc', [
      '-shared',
      '-fPIC',
      '-O2',
      '-I/usr/include/python3.11',
      path.join(src, 'fastmath.c'),
      '-o',
      so,
    ]);
    const dir = await source('py-ext', {
      'site-packages/fastmath/__init__.py': 'from fastmath._fastmath import square\n',
      'site-packages/fastmath/_fastmath.abi3.so': await readFile(so),
      'handler.py':
        'import fastmath\n\ndef handler(event, context):\n    return {"square": fastmath.square(12), "from": fastmath.__file__}\n',
    });
    const res = await deployDir(t.url, dir, { name: 'py-ext', runtime: 'python' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await (await fetch(`${t.url}/fn/py-ext/`)).json()).toEqual({
      square: 144,
      from: '/fn/site-packages/fastmath/__init__.py',
    });
  });
});

describe('bundle: false (issue 10)', () => {
  it('ships the bundle as it is: the shim imports the entry, node_modules and all', async () => {
    const dir = await source('as-is', {
      'src/lambda.js':
        'const dep = require("dep");\nexports.handler = async () => ({ statusCode: 200, body: dep() + " " + __filename });',
      'node_modules/dep/package.json': '{"name":"dep","main":"index.js"}',
      'node_modules/dep/index.js': 'module.exports = () => "unbundled";',
    });
    const res = await deployDir(t.url, dir, {
      name: 'as-is',
      runtime: 'node',
      handler: 'src/lambda.handler',
      bundle: 'false',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(await (await fetch(`${t.url}/fn/as-is/`)).text()).toBe('unbundled /fn/src/lambda.js');
    expect(await layerFiles('as-is')).toEqual([
      'node_modules',
      'node_modules/dep',
      'node_modules/dep/index.js',
      'node_modules/dep/package.json',
      'src',
      'src/lambda.js',
    ]);
  });
});
