import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_CACHE } from '../harness.js';
import { type RawEntry, rawTar } from '../tar-builder.js';
import { GatewayProcess } from './gateway-process.js';

/**
 * Issue 8 §13 for everything a client sends besides a bundle (test/containment/bundle-fuzz
 * covers bundles): a seeded fuzzer mutates specs (kiln.json and the deploy's query), invoke
 * requests (raw bytes on a socket: request lines, methods, targets and escapes, headers,
 * framing, bodies) and control-plane requests (paths, methods, malformed JSON and multipart,
 * query fields), against a real gateway process. Every answer must be < 500 (a 4xx from Kiln
 * carries a code); the gateway never exits; no file is left in its data dir's tmp/.
 */
/** Fixed for CI; `KILN_FUZZ_SEED=<n>` explores another sequence (printed either way). */
const SEED = Number(process.env.KILN_FUZZ_SEED ?? 0x72657175);
const SPECS = 160;
const INVOKES = 260;
const CONTROLS = 200;

let gateway: GatewayProcess;
let port = 0;

/** A function that cannot fail on any request: what the fuzzer reaches is Kiln's code (gateway, shim). */
const TARGET: RawEntry[] = [
  { path: 'index.mjs', body: 'export default { fetch: () => new Response("ok") };' },
];
const PY_HANDLER: RawEntry[] = [
  { path: 'handler.py', body: 'def handler(event, context):\n    return "ok"\n' },
];

beforeAll(async () => {
  gateway = await GatewayProcess.start();
  port = Number(new URL(gateway.url).port);
  const target = await gateway.deploy(gzipSync(rawTar(TARGET)), { name: 'target', runtime: 'node' });
  expect(target.status).toBe(201);
  const guarded = await gateway.deploy(gzipSync(rawTar(TARGET)), {
    name: 'guarded',
    runtime: 'node',
    auth: 'token',
  });
  expect(guarded.status).toBe(201);
}, 120_000);
afterAll(() => gateway?.remove());

/** mulberry32, as in bundle-fuzz.test.ts: a failure names a mutation that can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}
type Rand = () => number;
const pick = <T>(rand: Rand, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
const chance = (rand: Rand, p: number) => rand() < p;

function randomBytesFrom(rand: Rand, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  '%',
  '%zz',
  '%00',
  '%E0%A4%A',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '../../etc/passwd',
  '..',
  '/',
  '\\',
  'C:\\x',
  'é',
  '\u0000',
  '\u202e',
  '\ud800',
  '__proto__',
  'constructor',
  'toString',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '9007199254740993',
  '0x10',
  '1.5',
  'true',
  'null',
  '{',
  '[]',
  '{"__proto__":{"x":1}}',
  'a'.repeat(300),
  'x'.repeat(70_000),
  '$(id)',
  '`id`',
  "'; DROP TABLE",
  'token',
  'none',
];

const JSON_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  'x',
  [],
  [1, 2],
  {},
  { a: 'b' },
  { __proto__: null },
  { A: { nested: true } },
  'a'.repeat(10_000),
];

const SPEC_KEYS = [
  'name',
  'runtime',
  'handler',
  'bundle',
  'env',
  'auth',
  'memoryMb',
  'cpus',
  'pids',
  'timeoutMs',
  'concurrency',
  'minInstances',
  'maxInstances',
  'maxQueue',
  'idleTtlMs',
  'eventFormat',
  'region',
  'asyncRetries',
  'maxAsyncQueue',
  'asyncRetentionMs',
  '__proto__',
  'constructor',
  'unknown',
  '',
];

interface Answer {
  statuses: number[];
  raw: string;
}

/**
 * Send raw bytes, half-close, and read until the gateway closes (or 3 s pass: a request the
 * gateway still waits on is not an answer, and not a failure either).
 */
function rawRequest(bytes: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const statuses = [...raw.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ statuses, raw });
    };
    const timer = setTimeout(done, 3000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', done);
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      socket.write(bytes);
      socket.end();
    });
  });
}

const METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'TRACE',
  'CONNECT',
  'PRI',
  'get',
  'G\u0000T',
  'M-SEARCH',
  'PROPFIND',
  'X'.repeat(64),
  '',
];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.1x',
  '',
  'HTTPS/1.1',
  'HTTP/9.9',
];
const INVOKE_TARGETS = [
  '/fn/target/',
  '/fn/target',
  '/fn/target?x=1',
  '/fn/target/a/b?c=%zz',
  '/fn/target/%',
  '/fn/target/%00',
  '/fn/target/%2e%2e/%2e%2e/etc/passwd',
  '/fn/target/../../functions',
  '/fn/target//x',
  '/fn/target/é',
  '/fn/target/#frag',
  '/fn/target/\u007f',
  `/fn/target/${'a'.repeat(9000)}`,
  `/fn/target/?${'q=1&'.repeat(3000)}`,
  '/fn/%E0%A4%A/',
  '/fn/',
  '/fn//',
  '/fn/TARGET/',
  '/fn/nobody/',
  '/fn/-/',
  '/fn/%2F/',
  '/fn/target%2F..%2F/',
  '/fn/guarded/',
  '/fn/__proto__/',
  '/fn/constructor/',
  '*',
  'http://evil.example/fn/target/',
  '/fn/target/ x',
];

function headerLines(rand: Rand): { lines: string[]; chunked: boolean; declared?: number } {
  const lines: string[] = [];
  let chunked = false;
  let declared: number | undefined;
  if (!chance(rand, 0.1))
    lines.push(
      pick(rand, ['Host: localhost', 'Host: ', 'Host: a\r\nHost: b', 'host: x:99999', 'Host: [::1']),
    );
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    const h = pick(rand, [
      () => {
        declared = pick(rand, [0, 5, 100, 1_000_000_000]);
        return `Content-Length: ${declared}`;
      },
      () =>
        `Content-Length: ${pick(rand, ['-1', 'abc', '1, 2', '0x10', '99999999999999999999', ' 5', '5 5'])}`,
      () => 'Content-Length: 3\r\nContent-Length: 4',
      () => {
        chunked = true;
        return 'Transfer-Encoding: chunked';
      },
      () =>
        `Transfer-Encoding: ${pick(rand, ['chunked, gzip', 'xchunked', 'gzip', 'chunked\r\nTransfer-Encoding: chunked', 'identity'])}`,
      () => `Expect: ${pick(rand, ['100-continue', 'junk', '100-continue, x'])}`,
      () =>
        `Connection: ${pick(rand, ['close', 'keep-alive', 'upgrade', 'x-kiln-start, authorization', 'te'])}`,
      () => 'Upgrade: websocket',
      () =>
        `Authorization: ${pick(rand, ['Bearer', 'Bearer x', 'Basic Og==', `Bearer ${'a'.repeat(5000)}`, 'Bearer \u00ff'])}`,
      () => `Authorization: Bearer ${gateway.token}`,
      () => `X-Forwarded-For: ${pick(rand, ['', '1.2.3.4', '\u00ff', 'a'.repeat(1000)])}`,
      () => `x-kiln-${pick(rand, ['start', 'instance', 'request-id', 'error'])}: forged`,
      () =>
        `Content-Type: ${pick(rand, ['', 'application/json', 'multipart/form-data', 'text/plain; charset=\u00ff'])}`,
      () => 'X-Folded: a\r\n  b',
      () => 'NoColonHere',
      () => 'Bad Name: x',
      () => ': empty-name',
      () => `X-Long: ${'v'.repeat(pick(rand, [100, 9000, 70_000]))}`,
      () => Array.from({ length: pick(rand, [50, 500, 3000]) }, (_, k) => `X-H${k}: v`).join('\r\n'),
      () => 'X-Nul: a\u0000b',
      () => `Cookie: ${'c=1; '.repeat(2000)}`,
    ])();
    lines.push(h);
  }
  return { lines, chunked, declared };
}

function bodyFor(rand: Rand, chunked: boolean, declared: number | undefined): Buffer {
  if (chunked) {
    const parts = Array.from({ length: Math.floor(rand() * 3) }, () =>
      pick(rand, [
        '5\r\nhello\r\n',
        'zz\r\nhello\r\n',
        '-1\r\n\r\n',
        'ffffffffffffffff\r\nx\r\n',
        '3;ext=1\r\nabc\r\n',
        '5\r\nhel',
        '2\r\nabcdef\r\n',
      ]),
    );
    return Buffer.from(`${parts.join('')}${chance(rand, 0.7) ? '0\r\n\r\n' : ''}`, 'latin1');
  }
  const size =
    declared !== undefined && declared < 10_000 && chance(rand, 0.6) ? declared : Math.floor(rand() * 3000);
  return randomBytesFrom(rand, size);
}

/** A line of a V8 stack trace: `    at fn (file.js:1:2)`. */
const STACK_FRAME = /\n\s+at [^\n]+:\d+:\d+\)?\r?\n/;

/**
 * The status of the first 4xx answer in `raw` whose body is not `{"error":{"code":…}}`, if
 * any (every refusal names its code, parser refusals included: src/gateway/client-errors.ts).
 * A HEAD's answers have no body, so those are not looked at.
 */
function uncodedRefusal(raw: string, sent: Buffer): number | undefined {
  if (sent.subarray(0, 5).toString('latin1') === 'HEAD ') return undefined;
  for (const m of raw.matchAll(/HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n[\s\S]*?\r\n\r\n/g)) {
    const status = Number(m[1]);
    const body = raw.slice(m.index + m[0].length, m.index + m[0].length + 40);
    if (status >= 400 && !/^(?:[0-9a-f]+\r\n)?\{"error":\{"code":"[a-z_]+"/.test(body)) return status;
  }
  return undefined;
}

function invokeMutation(rand: Rand): { what: string; bytes: Buffer } {
  const method = pick(rand, METHODS);
  const target = pick(rand, INVOKE_TARGETS);
  const version = pick(rand, VERSIONS);
  const { lines, chunked, declared } = headerLines(rand);
  const eol = pick(rand, ['\r\n', '\r\n', '\r\n', '\n']);
  const head = [`${method} ${target} ${version}`.replace(/ $/, ''), ...lines].join(eol);
  const body = chance(rand, 0.5) ? bodyFor(rand, chunked, declared) : Buffer.alloc(0);
  const pipelined = chance(rand, 0.1)
    ? Buffer.from(`GET /fn/target/ HTTP/1.1${eol}Host: x${eol}${eol}`)
    : Buffer.alloc(0);
  const what = `${JSON.stringify(method)} ${JSON.stringify(target.slice(0, 60))} ${JSON.stringify(version)} [${lines.map((l) => l.slice(0, 40)).join(' | ')}] body ${body.length}`;
  return { what, bytes: Buffer.concat([Buffer.from(`${head}${eol}${eol}`, 'latin1'), body, pipelined]) };
}

const CONTROL_PATHS = [
  '/functions',
  '/functions/',
  '/functions/target',
  '/functions/target/versions',
  '/functions/target/logs',
  '/functions/target/logs?since=junk',
  '/functions/target/logs?tail=-1',
  '/functions/target/logs?tail=1e309&format=xml',
  '/functions/target/logs?since=%zz',
  '/functions/target/logs?request=%00',
  '/functions/nobody/logs',
  '/functions/%zz',
  '/functions/%E0%A4%A/versions',
  '/functions/..%2f..%2fetc',
  `/functions/${'a'.repeat(5000)}`,
  '/functions/a/b/c/d',
  '/functions/__proto__',
  '/functions/constructor/versions',
  '/instances',
  '/instances/%zz',
  '/instances/__proto__',
  `/instances/${'i'.repeat(3000)}`,
  '/async',
  '/async?state=junk',
  '/async?state=%zz&function=%00',
  `/async/${randomUUID()}`,
  `/async/${randomUUID()}/retry`,
  '/async/%zz',
  '/async/nobody/x',
  '/metrics',
  '/healthz?x=%zz',
  '/%',
  '//functions',
  '/functions/../instances',
  '/',
  '/favicon.ico',
];
const CONTROL_METHODS = ['GET', 'GET', 'POST', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE'];

function multipartBody(rand: Rand): { type: string; body: Buffer } {
  const boundary = pick(rand, ['XyZ', '', '"quoted"', 'a'.repeat(200), '--', 'é']);
  const part = (headers: string, content: Buffer | string) =>
    Buffer.concat([
      Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`, 'latin1'),
      Buffer.from(content),
      Buffer.from('\r\n'),
    ]);
  const parts: Buffer[] = [];
  const n = Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    parts.push(
      pick(rand, [
        () =>
          part('Content-Disposition: form-data; name="bundle"; filename="b.tgz"', gzipSync(rawTar(TARGET))),
        () => part('Content-Disposition: form-data; name="bundle"', randomBytesFrom(rand, 200)),
        () =>
          part(
            `Content-Disposition: form-data; name="${pick(rand, SPEC_KEYS)}"`,
            pick(rand, HOSTILE_STRINGS),
          ),
        () => part('Content-Disposition: form-data', 'no name'),
        () => part('Content-Type: text/plain', 'no disposition'),
        () => part(`Content-Disposition: form-data; name="${'n'.repeat(2000)}"`, 'x'),
        () => Buffer.from(`--${boundary}\r\nbroken headers without end`),
        () => randomBytesFrom(rand, 100),
      ])(),
    );
  }
  if (chance(rand, 0.7)) parts.push(Buffer.from(`--${boundary}--\r\n`));
  const type = pick(rand, [
    `multipart/form-data; boundary=${boundary}`,
    'multipart/form-data',
    `multipart/mixed; boundary=${boundary}`,
    `multipart/form-data; boundary=${boundary}; boundary=other`,
  ]);
  return { type, body: Buffer.concat(parts) };
}

function controlBody(rand: Rand): { type?: string; body: Buffer } {
  return pick(rand, [
    () => multipartBody(rand),
    () => ({
      type: 'application/json',
      body: Buffer.from(
        pick(rand, [
          '{',
          '[',
          '"',
          'null',
          '{"name":',
          '{"name":"a","runtime":"node"}',
          '\u00ff\u00fe',
          '{"__proto__":{"admin":true}}',
          '1e999',
        ]),
      ),
    }),
    () => ({ type: 'application/gzip', body: randomBytesFrom(rand, Math.floor(rand() * 2000)) }),
    () => ({ type: 'application/gzip', body: gzipSync(rawTar(TARGET)) }),
    () => ({ type: 'application/x-www-form-urlencoded', body: Buffer.from('name=%zz&runtime=%00') }),
    () => ({
      type: pick(rand, ['text/plain', '', 'application/octet-stream', 'x/y; a=']),
      body: randomBytesFrom(rand, 300),
    }),
    () => ({ body: Buffer.alloc(0) }),
  ])();
}

/** %-encode every byte of the UTF-8 form (encodeURIComponent throws on a lone surrogate). */
function pct(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

function queryString(rand: Rand): string {
  const n = Math.floor(rand() * 5);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = pick(rand, SPEC_KEYS);
    const raw = chance(rand, 0.3);
    const value = pick(rand, HOSTILE_STRINGS);
    parts.push(raw ? `${key}=${value.slice(0, 200)}` : `${pct(key)}=${pct(value)}`);
  }
  if (chance(rand, 0.2)) parts.push('name=a&name=b');
  return parts.length ? `?${parts.join('&')}` : '';
}

function controlMutation(rand: Rand): { what: string; bytes: Buffer } {
  const method = pick(rand, CONTROL_METHODS);
  let target = pick(rand, CONTROL_PATHS);
  if (target === '/functions' && method === 'POST') target += queryString(rand);
  const { type, body } =
    method === 'GET' || method === 'HEAD' ? { type: undefined, body: Buffer.alloc(0) } : controlBody(rand);
  const token = chance(rand, 0.85) ? gateway.token : pick(rand, ['', 'wrong', `${gateway.token}x`]);
  const lines = [
    `${method} ${target} HTTP/1.1`,
    'Host: localhost',
    'Connection: close',
    ...(token ? [`Authorization: Bearer ${token}`] : []),
    ...(type !== undefined ? [`Content-Type: ${type}`] : []),
    `Content-Length: ${body.length}`,
  ];
  const what = `${method} ${JSON.stringify(target.slice(0, 80))} ${type ?? '-'} body ${body.length}${token === gateway.token ? '' : ' (bad token)'}`;
  return { what, bytes: Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]) };
}

/** A deploy whose kiln.json and query are mutated; a python bundle mostly (no build container), a node one now and then. */
function specMutation(rand: Rand, n: number): { what: string; query: string; bundle: Buffer } {
  const node = n % 8 === 0;
  const kiln: Record<string, unknown> = {};
  const entries: RawEntry[] = [...(node ? TARGET : PY_HANDLER)];
  const keys = Math.floor(rand() * 4);
  for (let i = 0; i < keys; i++) {
    const key = pick(rand, SPEC_KEYS);
    kiln[key] = chance(rand, 0.5) ? pick(rand, JSON_VALUES) : pick(rand, HOSTILE_STRINGS);
  }
  let kilnText = JSON.stringify(kiln);
  const form = Math.floor(rand() * 10);
  if (form === 0) kilnText = kilnText.slice(0, Math.floor(rand() * kilnText.length));
  else if (form === 1)
    kilnText = pick(rand, [
      '[]',
      'null',
      '"str"',
      '42',
      '\u00ef\u00bb\u00bf{}',
      '{"a":1,"a":2}',
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      '',
    ]);
  if (form !== 2)
    entries.push({ path: 'kiln.json', body: Buffer.from(kilnText, form === 1 ? 'latin1' : 'utf8') });
  if (form === 3) entries.push({ path: 'kiln.json', body: 'x'.repeat(70_000) });
  // The query gives name and runtime most of the time, so the kiln.json fields are what is tested.
  const base = new URLSearchParams();
  if (chance(rand, 0.8)) base.set('name', `fz-spec-${n % 5}`);
  if (chance(rand, 0.8)) base.set('runtime', node ? 'node' : 'python');
  const extra = queryString(rand).slice(1);
  const query = [base.toString(), extra].filter(Boolean).join('&');
  return {
    what: `${node ? 'node' : 'python'} kiln.json ${JSON.stringify(kilnText.slice(0, 120))} query ${JSON.stringify(query.slice(0, 160))}`,
    query,
    bundle: gzipSync(rawTar(entries)),
  };
}

it(`${SPECS + INVOKES + CONTROLS} mutated specs, invoke and control requests: no 5xx, no crash, nothing left in tmp/`, async () => {
  console.log(`request fuzz seed ${SEED} (KILN_FUZZ_SEED=${SEED} replays it)`);
  const rand = prng(SEED);
  const failures: string[] = [];
  const statuses = new Map<string, number>();
  const count = (family: string, status: number | string) => {
    const key = `${family} ${status}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
  };
  const alive = (n: number, what: string) => {
    if (!gateway.running) failures.push(`#${n} ${what}: the gateway exited\n${gateway.output.slice(-2000)}`);
    return gateway.running;
  };

  for (let n = 0; n < SPECS; n++) {
    const m = specMutation(rand, n);
    const res = await fetch(`${gateway.url}/functions?${m.query}`, {
      method: 'POST',
      headers: gateway.headers({ 'content-type': 'application/gzip' }),
      body: m.bundle as unknown as BodyInit,
    }).catch((err: Error) => err);
    if (res instanceof Error) {
      failures.push(`spec #${n} ${m.what}: no answer (${res.message})`);
    } else {
      const text = await res.text();
      count('spec', res.status);
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
      } catch {
        code = undefined;
      }
      if (res.status >= 500 || (res.status >= 400 && !/^[a-z_]+$/.test(code ?? '')))
        failures.push(`spec #${n} ${m.what}: ${res.status} ${text.slice(0, 300)}`);
    }
    if (!alive(n, m.what)) break;
  }

  for (const [family, total, make] of [
    ['invoke', INVOKES, invokeMutation],
    ['control', CONTROLS, controlMutation],
  ] as const) {
    for (let n = 0; n < total && gateway.running; n++) {
      const m = make(rand);
      const answer = await rawRequest(m.bytes);
      for (const status of answer.statuses) count(family, status);
      if (!answer.statuses.length) count(family, 'none');
      const bad = answer.statuses.filter((s) => s >= 500);
      if (bad.length)
        failures.push(`${family} #${n} ${m.what}: ${bad.join(',')} ${answer.raw.slice(0, 400)}`);
      const uncoded = uncodedRefusal(answer.raw, m.bytes);
      if (uncoded) failures.push(`${family} #${n} ${m.what}: a ${uncoded} without {error:{code}}`);
      if (STACK_FRAME.test(answer.raw))
        failures.push(`${family} #${n} ${m.what}: a stack trace in the answer`);
      alive(n, m.what);
    }
  }

  console.log(`request fuzz (seed ${SEED}): ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  expect(failures).toEqual([]);
  // An error Kiln did not expect is logged as `kiln: internal error:` with its stack (src/errors.ts).
  expect(gateway.output).not.toMatch(/internal error|\n\s+at .+:\d+:\d+\)?\n/);
  expect(gateway.running).toBe(true);
  expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  expect(await (await fetch(`${gateway.url}/fn/target/`)).text()).toBe('ok');
  expect(await readdir(path.join(gateway.dataDir, 'tmp'))).toEqual([]);
  const ingest = await readdir(path.join(TEST_CACHE, 'images', 'ingest'));
  expect(ingest.filter((f) => f.startsWith(`${gateway.pid}-`))).toEqual([]);
}, 900_000);
