import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deployBytes, startTestGateway, TEST_CACHE, type TestGateway } from '../harness.js';
import { type RawEntry, rawTar } from '../tar-builder.js';

/**
 * issue 8 §13: 27 of ~850 fuzzed bundles got a 500. Here a seeded fuzzer mutates valid
 * bundles (header fields with the checksum made right again so the parser reads them,
 * link names and targets, entry types, declared sizes, truncation, gzip corruption) and
 * deploys each through a real gateway: every answer must be a 2xx, or a 4xx with a code;
 * never a 5xx; the gateway keeps serving, and no work dir or ingest file is left.
 */
/** Fixed for CI; `KILN_FUZZ_SEED=<n>` explores another sequence. */
const SEED = Number(process.env.KILN_FUZZ_SEED ?? 0x6b696c6e);
const MUTATIONS = 600;
/** One in this many goes through the whole path (node build in its sandbox, trial start); the rest stop at python's handler check. */
const FULL_EVERY = 12;

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
  const keeper = await deployBytes(t.url, gzipSync(rawTar(baseNode())), { name: 'keeper', runtime: 'node' });
  expect(keeper.status).toBe(201);
});
afterAll(() => t?.close());

/** mulberry32: a small seeded PRNG, so a failure names a mutation that can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function baseNode(): RawEntry[] {
  return [
    { path: 'lib', type: 'Directory' },
    { path: 'lib/a.js', body: 'export const a = "A";' },
    { path: 'lib/b.js', type: 'SymbolicLink', linkpath: 'a.js' },
    { path: 'c.js', type: 'Link', linkpath: 'lib/a.js' },
    { path: 'data/words.txt', body: 'one two' },
    {
      path: 'index.mjs',
      body: 'import { a } from "./lib/b.js";\nexport default { fetch: () => new Response(a) };',
    },
  ];
}

function basePython(): RawEntry[] {
  return [
    { path: 'pkg', type: 'Directory' },
    { path: 'pkg/__init__.py', body: '' },
    { path: 'pkg/util.py', body: 'X = 1\n' },
    { path: 'alias.py', type: 'SymbolicLink', linkpath: 'pkg/util.py' },
    { path: 'handler.py', body: 'def handler(event, context):\n    return "ok"\n' },
  ];
}

const NASTY_PATHS = [
  '..',
  '../x',
  '../../etc/passwd',
  '/etc/passwd',
  'C:\\x',
  'c:/x',
  'a\\..\\..\\b',
  'd/../..',
  '',
  '.',
  './',
  'a/./b/../../..',
  'x'.repeat(300),
  `${'d/'.repeat(200)}f`,
  'é/ü',
  'a\u0000b',
  'a\nb',
  '\u202e.js',
  ' ',
  'lib/a.js',
  'lib',
  'index.mjs',
  'lib/b.js/x',
  'c.js/y',
  '//double',
  '...',
  'a//b',
];
const TYPES: RawEntry['type'][] = [
  'File',
  'Directory',
  'SymbolicLink',
  'Link',
  'CharacterDevice',
  'BlockDevice',
  'FIFO',
];
const TYPEFLAGS = '0123456789gxLKAVMSNDIZ\u0000 ';

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

/** Recompute a ustar header's checksum (octal sum of its bytes, the field itself as spaces). */
function fixChecksum(tar: Buffer, at: number): void {
  tar.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, at + 148, 'latin1');
}

/** Offsets of the header blocks rawTar wrote for `entries`. */
function headerOffsets(entries: RawEntry[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (const e of entries) {
    out.push(at);
    const size = (e.type ?? 'File') === 'File' ? Buffer.byteLength(e.body ?? '') : 0;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

interface Mutant {
  what: string;
  body: Buffer;
}

function mutate(rand: () => number, base: RawEntry[]): Mutant {
  const entries = base.map((e) => ({ ...e }));
  const i = Math.floor(rand() * entries.length);
  const kind = Math.floor(rand() * 9);
  switch (kind) {
    case 0: {
      entries[i]!.path = pick(rand, NASTY_PATHS);
      return { what: `path of #${i} → ${JSON.stringify(entries[i]!.path)}`, body: gzipSync(rawTar(entries)) };
    }
    case 1: {
      entries[i]!.type = pick(rand, ['SymbolicLink', 'Link'] as const);
      entries[i]!.linkpath = pick(rand, NASTY_PATHS);
      return {
        what: `#${i} → ${entries[i]!.type} to ${JSON.stringify(entries[i]!.linkpath)}`,
        body: gzipSync(rawTar(entries)),
      };
    }
    case 2: {
      entries[i]!.type = pick(rand, TYPES);
      if (entries[i]!.type === 'SymbolicLink' || entries[i]!.type === 'Link')
        entries[i]!.linkpath ??= pick(rand, NASTY_PATHS);
      return { what: `type of #${i} → ${entries[i]!.type}`, body: gzipSync(rawTar(entries)) };
    }
    case 3: {
      const tar = rawTar(entries);
      const at = headerOffsets(entries)[i]!;
      const flag = pick(rand, TYPEFLAGS.split(''));
      tar.write(flag, at + 156, 'latin1');
      fixChecksum(tar, at);
      return { what: `typeflag of #${i} → ${JSON.stringify(flag)}`, body: gzipSync(tar) };
    }
    case 4: {
      const tar = rawTar(entries);
      const at = headerOffsets(entries)[i]!;
      const sizes = [
        '77777777777',
        '00000000001',
        '00000001000',
        '7777777777\u0000',
        'zzzzzzzzzzz',
        '-0000000001',
        '\u0080\u0000\u0000\u0000\u0000\u0000\u0000\u00ff\u00ff\u00ff\u00ff',
      ];
      const size = pick(rand, sizes);
      tar.write(size.padEnd(12, '\u0000').slice(0, 12), at + 124, 'latin1');
      fixChecksum(tar, at);
      return { what: `size of #${i} → ${JSON.stringify(size)}`, body: gzipSync(tar) };
    }
    case 5: {
      // Random bytes in a header (name, mode, uid, linkname, magic, prefix…), checksum made right.
      const tar = rawTar(entries);
      const at = headerOffsets(entries)[i]!;
      const n = 1 + Math.floor(rand() * 8);
      for (let k = 0; k < n; k++) tar[at + Math.floor(rand() * 512)] = Math.floor(rand() * 256);
      fixChecksum(tar, at);
      return { what: `${n} random header bytes in #${i}`, body: gzipSync(tar) };
    }
    case 6: {
      const tar = rawTar(entries);
      const cut = Math.floor(rand() * tar.length);
      return { what: `tar cut at ${cut}/${tar.length}`, body: gzipSync(tar.subarray(0, cut)) };
    }
    case 7: {
      const gz = gzipSync(rawTar(entries));
      if (rand() < 0.5) {
        const cut = Math.floor(rand() * gz.length);
        return { what: `gzip cut at ${cut}/${gz.length}`, body: gz.subarray(0, cut) };
      }
      const copy = Buffer.from(gz);
      const at = 10 + Math.floor(rand() * (copy.length - 10));
      copy[at] = copy[at]! ^ (1 + Math.floor(rand() * 255));
      return { what: `gzip byte ${at} flipped`, body: copy };
    }
    default: {
      // Structure: an entry duplicated, or moved under a link or a file.
      const e = entries[i]!;
      const copy = {
        ...e,
        path:
          rand() < 0.5
            ? e.path
            : `${pick(rand, ['lib/b.js', 'c.js', 'alias.py', 'handler.py', 'index.mjs'])}/${e.path}`,
      };
      entries.splice(Math.floor(rand() * entries.length), 0, copy);
      return { what: `#${i} again as ${JSON.stringify(copy.path)}`, body: gzipSync(rawTar(entries)) };
    }
  }
}

it(`${MUTATIONS} mutated bundles: each answered 2xx or 4xx with a code, never 5xx; nothing left behind`, async () => {
  const rand = prng(SEED);
  const failures: string[] = [];
  const statuses = new Map<string, number>();
  for (let n = 0; n < MUTATIONS; n++) {
    const full = n % FULL_EVERY === 0;
    const mutant = mutate(rand, full ? baseNode() : basePython());
    const query: Record<string, string> = full
      ? { name: `fz-node-${n}`, runtime: 'node' }
      : { name: 'fz-py', runtime: 'python', handler: 'not_there.handler' };
    let res: Awaited<ReturnType<typeof deployBytes>>;
    try {
      res = await deployBytes(t.url, mutant.body, query);
    } catch (err) {
      failures.push(`#${n} ${mutant.what}: no answer (${(err as Error).message})`);
      continue;
    }
    const key = `${res.status} ${res.body.error?.code ?? ''}`.trim();
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const ok = res.status >= 200 && res.status < 300;
    const refused = res.status >= 400 && res.status < 500 && /^[a-z_]+$/.test(res.body.error?.code ?? '');
    if (!ok && !refused) failures.push(`#${n} ${mutant.what}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  console.log(`bundle fuzz (seed ${SEED}): ${JSON.stringify(Object.fromEntries(statuses))}`);
  expect(failures).toEqual([]);
  expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  expect(await (await fetch(`${t.url}/fn/keeper/`)).text()).toBe('A');
  expect(await readdir(path.join(t.dataDir, 'tmp'))).toEqual([]);
  const ingest = await readdir(path.join(TEST_CACHE, 'images', 'ingest'));
  expect(ingest.filter((f) => f.startsWith(`${process.pid}-`))).toEqual([]);
}, 600_000);
