import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './harness.js';
import { PythonShim, ResponseReader } from './python-shim-process.js';

/**
 * The python shim as a real process on the host's python: HTTP/1.1 as any client speaks
 * it (SHIM-PROTOCOL.md §6), listening (§1), init (§2) and concurrency.
 */
const PROBES = path.join(ROOT, 'test/lambda/python');
const probeInit = (extra: Record<string, unknown> = {}) => ({
  handler: 'http_probe.handler',
  codeDir: PROBES,
  function: { name: 'probe', version: 1, memoryMb: 128 },
  ...extra,
});

describe('python shim over HTTP/1.1', () => {
  let shim: PythonShim;
  beforeAll(async () => {
    shim = await PythonShim.start({ env: { KILN_MAX_BODY_BYTES: '4096' } });
    expect((await shim.init(probeInit({ concurrency: 2 }))).status).toBe(200);
  });
  afterAll(() => shim?.stop());

  it('answers pipelined requests in order, on one connection', async () => {
    const sock = await shim.connect();
    const reader = new ResponseReader(sock);
    sock.write(
      'POST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nfirstPOST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: 6\r\n\r\nsecondGET /echo HTTP/1.1\r\nhost: a\r\n\r\n',
    );
    expect((await reader.next()).text).toBe('first');
    expect((await reader.next()).text).toBe('second');
    const third = await reader.next();
    expect(third.status).toBe(200);
    expect(third.headers['x-method']).toBe('GET');
    sock.destroy();
  });

  it('serves other connections while one request head is half sent', async () => {
    const slow = await shim.connect();
    const slowReader = new ResponseReader(slow);
    slow.write('POST /echo HTTP/1.1\r\nhost: a\r\ncontent-le');
    const other = await shim.request('POST', '/echo', { body: 'not blocked' });
    expect(other.text).toBe('not blocked');
    slow.write('ngth: 4\r\n\r\nslow');
    expect((await slowReader.next()).text).toBe('slow');
    slow.destroy();
  });

  it('answers HEAD with the length and no body, and the connection stays usable', async () => {
    const sock = await shim.connect();
    const reader = new ResponseReader(sock);
    sock.write(
      'HEAD / HTTP/1.1\r\nhost: a\r\n\r\nPOST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\nok',
    );
    const head = await reader.next(true);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    // Had a body followed the HEAD answer, it would be read as the start of this one.
    const next = await reader.next();
    expect(next).toMatchObject({ status: 200, text: 'ok' });
    expect(next.headers['x-method']).toBe('POST');
    sock.destroy();
  });

  it('sends 100 Continue before reading a body the client holds back', async () => {
    const sock = await shim.connect();
    const reader = new ResponseReader(sock);
    sock.write('POST /echo HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 7\r\n\r\n');
    expect((await reader.next()).status).toBe(100);
    sock.write('payload');
    const res = await reader.next();
    expect(res).toMatchObject({ status: 200, text: 'payload' });
    sock.destroy();
  });

  it('refuses a body over KILN_MAX_BODY_BYTES with 413 before asking for it', async () => {
    const sock = await shim.connect();
    const reader = new ResponseReader(sock);
    sock.write('POST /echo HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 5000\r\n\r\n');
    const res = await reader.next();
    expect(res.status).toBe(413);
    expect(res.headers['x-kiln-error']).toBe('request_too_large');
    expect(res.headers.connection).toBe('close');
    sock.destroy();
  });

  it('reads chunked bodies, with extensions and trailers, and caps them too', async () => {
    const sock = await shim.connect();
    const reader = new ResponseReader(sock);
    sock.write(
      'POST /echo HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, chunk\r\n0\r\nx-trailer: t\r\n\r\n',
    );
    expect((await reader.next()).text).toBe('hello, chunk');
    const big = `${(3000).toString(16)}\r\n${'a'.repeat(3000)}\r\n`;
    sock.write(`POST /echo HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n${big}${big}0\r\n\r\n`);
    const res = await reader.next();
    expect(res.status).toBe(413);
    expect(await reader.closed()).toBe(true);
  });

  it('answers a request head over 64 KiB with 431 and closes', async () => {
    const sock = await shim.connect();
    const reader = new ResponseReader(sock);
    sock.write(`GET / HTTP/1.1\r\nhost: a\r\nx-big: ${'b'.repeat(70 * 1024)}\r\n\r\n`);
    const res = await reader.next();
    expect(res.status).toBe(431);
    expect(res.headers['x-kiln-error']).toBe('request_head_too_large');
    expect(await reader.closed()).toBe(true);
  });

  it.each([
    ['a request line that is not HTTP', 400, 'HELLO\r\n\r\n'],
    ['a space before a header colon', 400, 'GET / HTTP/1.1\r\nhost : a\r\n\r\n'],
    ['a folded header line', 400, 'GET / HTTP/1.1\r\nhost: a\r\n  folded\r\n\r\n'],
    ['content-length that is not a number', 400, 'POST / HTTP/1.1\r\ncontent-length: 1x\r\n\r\n'],
    [
      'both content-length and chunked',
      400,
      'POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n',
    ],
    ['a bad chunk size', 400, 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'],
    ['an unknown transfer coding', 501, 'POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n'],
    ['an Expect it cannot meet', 417, 'POST / HTTP/1.1\r\nexpect: 200-ok\r\ncontent-length: 1\r\n\r\n'],
    ['HTTP/2.0 in a request line', 505, 'GET / HTTP/2.0\r\n\r\n'],
  ])('answers %s with %i and closes the connection', async (_what, status, wire) => {
    const sock = await shim.connect();
    const reader = new ResponseReader(sock);
    sock.write(wire);
    const res = await reader.next();
    expect(res.status).toBe(status);
    expect(JSON.parse(res.text).error.code).toBe(res.headers['x-kiln-error']);
    expect(res.headers.connection).toBe('close');
    expect(await reader.closed()).toBe(true);
    sock.destroy();
  });

  it('closes after Connection: close, and after an HTTP/1.0 request', async () => {
    for (const wire of ['GET / HTTP/1.1\r\nconnection: close\r\n\r\n', 'GET / HTTP/1.0\r\n\r\n']) {
      const sock = await shim.connect();
      const reader = new ResponseReader(sock);
      sock.write(wire);
      expect((await reader.next()).text).toBe('hello');
      expect(await reader.closed()).toBe(true);
    }
  });

  it('hides x-kiln-* and hop-by-hop headers from the handler', async () => {
    const res = await shim.request('GET', '/headers', {
      headers: { 'x-kiln-request-id': 'r1', 'x-kiln-deadline': '1', 'X-Custom': 'yes', 'keep-alive': '5' },
    });
    const seen = JSON.parse(res.text);
    expect(seen['x-custom']).toBe('yes');
    expect(
      Object.keys(seen).filter((k) => k.startsWith('x-kiln-') || k === 'keep-alive' || k === 'connection'),
    ).toEqual([]);
  });

  it('answers a health probe without calling the handler', async () => {
    const before = Number((await shim.request('GET', '/calls')).text);
    const health = await shim.request('GET', '/anything', { headers: { 'x-kiln-health': '1' } });
    expect(health).toMatchObject({ status: 200, text: '{"ok":true}' });
    expect(Number((await shim.request('GET', '/calls')).text)).toBe(before + 1);
  });

  it('runs two requests at once with concurrency 2: the second releases the first', async () => {
    const waiting = shim.request('GET', '/wait?ms=20000', { headers: { 'x-kiln-request-id': 'req-wait' } });
    await shim.line('stdout', (l) => l.includes('\treq-wait\twaiting'));
    const release = await shim.request('GET', '/release', {
      headers: { 'x-kiln-request-id': 'req-release' },
    });
    expect(release.text).toBe('ok');
    expect((await waiting).text).toBe('released');
    // Each log line carries the id of the request that wrote it, though both ran at once.
    const lines = shim.stdout.filter((l) => l.startsWith('[INFO]'));
    expect(lines.find((l) => l.endsWith('\twaiting'))).toContain('\treq-wait\t');
    expect(lines.find((l) => l.endsWith('\treleasing'))).toContain('\treq-release\t');
    expect(lines.find((l) => l.endsWith('\tdone waiting'))).toContain('\treq-wait\t');
  });
});

describe('python shim process', () => {
  const shims: PythonShim[] = [];
  const start = async (options: Parameters<typeof PythonShim.start>[0] = {}) => {
    const shim = await PythonShim.start(options);
    shims.push(shim);
    return shim;
  };
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'kiln-pyshim-code-'));
    await writeFile(path.join(scratch, 'raises.py'), 'raise RuntimeError("no luck at load")\n');
    await writeFile(path.join(scratch, 'syntax.py'), 'def handler(event, context)\n    return 1\n');
    await writeFile(path.join(scratch, 'imports.py'), 'import not_a_module_here\n');
    await writeFile(path.join(scratch, 'empty.py'), 'x = 1\n');
  });
  afterAll(async () => {
    for (const s of shims) await s.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('answers 503 not_initialized before /init, but health probes 200', async () => {
    const shim = await start();
    const res = await shim.request('GET', '/');
    expect(res.status).toBe(503);
    expect(res.headers['x-kiln-error']).toBe('not_initialized');
    const health = await shim.request('GET', '/', { headers: { 'x-kiln-health': '1' } });
    expect(health).toMatchObject({ status: 200, text: '{"ok":true}' });
  });

  it('with concurrency 1, a second request waits for the first', async () => {
    const shim = await start();
    expect((await shim.init(probeInit({ concurrency: 1 }))).status).toBe(200);
    const waiting = shim.request('GET', '/wait?ms=1000');
    await shim.line('stdout', (l) => l.endsWith('\twaiting'));
    const release = shim.request('GET', '/release');
    expect((await waiting).text).toBe('timeout');
    expect((await release).text).toBe('ok');
  });

  it('with no concurrency in /init (an older gateway), its connections are the only limit', async () => {
    const shim = await start();
    expect((await shim.init(probeInit())).status).toBe(200);
    const waiting = shim.request('GET', '/wait?ms=20000');
    await shim.line('stdout', (l) => l.endsWith('\twaiting'));
    expect((await shim.request('GET', '/release')).text).toBe('ok');
    expect((await waiting).text).toBe('released');
  });

  it('listens on an inherited socket on fd 0 (KILN_LISTEN_FD)', async () => {
    const shim = await start({ listen: 'fd0' });
    expect((await shim.init(probeInit())).status).toBe(200);
    expect((await shim.request('GET', '/')).text).toBe('hello');
  });

  it('outside Kiln listens on TCP and loads KILN_HANDLER at boot', async () => {
    const shim = await start({
      listen: 'tcp',
      env: { KILN_HANDLER: 'http_probe.handler', KILN_CODE_DIR: PROBES, KILN_CONCURRENCY: '2' },
    });
    expect((await shim.request('GET', '/')).text).toBe('hello');
    expect((await shim.request('GET', '/', { headers: { 'x-kiln-health': '1' } })).status).toBe(200);
  });

  it.each([
    [
      'raises.handler',
      'handler_load_failed',
      'RuntimeError: no luck at load',
      '[ERROR] RuntimeError: no luck at load\r',
    ],
    [
      'syntax.handler',
      'handler_load_failed',
      "SyntaxError: expected ':'",
      '[ERROR] Runtime.UserCodeSyntaxError: ',
    ],
    [
      'imports.handler',
      'handler_load_failed',
      "No module named 'not_a_module_here'",
      '[ERROR] Runtime.ImportModuleError: ',
    ],
    ['nofile.handler', 'handler_not_found', 'no module nofile', "Unable to import module 'nofile'"],
    [
      'empty.handler',
      'handler_not_found',
      'no function handler',
      "[ERROR] Runtime.HandlerNotFound: Handler 'handler'",
    ],
    ['nodot', 'handler_not_found', 'must be module.function', '[ERROR] Runtime.MalformedHandlerName: '],
  ])('refuses to load %s: 400 %s, and logs what Lambda logs', async (handler, code, text, logged) => {
    const shim = await start();
    const res = await shim.init({ handler, codeDir: scratch });
    expect(res.status).toBe(400);
    expect(res.headers['x-kiln-error']).toBe(code);
    expect(JSON.parse(res.text).error).toMatchObject({ code, message: expect.stringContaining(text) });
    await shim.line('stderr', (l) => l.includes(logged));
    // A failed init leaves the shim waiting for a good one.
    expect((await shim.init(probeInit())).status).toBe(200);
  });

  it('ends the process when a handler calls sys.exit, as Lambda’s runtime does', async () => {
    const shim = await start();
    expect((await shim.init(probeInit())).status).toBe(200);
    await expect(shim.request('GET', '/exit')).rejects.toThrow(/closed/);
    expect(await shim.waitForExit()).toBe(3);
  });
});
