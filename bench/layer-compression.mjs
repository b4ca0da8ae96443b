#!/usr/bin/env node
// `flock /var/tmp/kiln-bench.lock node bench/layer-compression.mjs [--data DIR] [--runs N]`
// Issue 14's zstd note: for each base and runtime layer Kiln pushes (os, language, shim) and
// for two function layers, the compressed size and the compress and decompress times of
// gzip as Kiln makes it (node:zlib level 6, src/image/compressed-layers.ts), gzip -6 and
// zstd -3 / -9 (the zstd CLI: Node 20's zlib has none), one thread each. Writes
// bench/results/compression-<timestamp>.json and .md. Wall time on a shared machine moves
// with the other load: the CPU time (user + sys) is the figure to compare.
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import { ImageStore } from '../dist/image/image-store.js';
import { packLayer } from '../dist/image/layer-tar.js';

const execFileP = promisify(execFile);
const HERE = import.meta.dirname;
const ROOT = path.resolve(HERE, '..');

const argv = process.argv.slice(2);
const value = (flag, fallback) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : fallback;
};
const DATA = value('--data', process.env.KILN_TEST_CACHE || '/var/tmp/kiln-test-cache');
const RUNS = Number(value('--runs', '3'));

/** The layers a pushed function image is made of: its base image's, then the function's. */
const BASE_REFS = [
  ['os (debootstrap minbase)', 'kiln/os:bookworm'],
  ['node language (official binary)', /^kiln\/lang-node:/],
  ['python language (apt python3)', /^kiln\/lang-python:/],
  ['java language (apt JRE 17)', /^kiln\/lang-java:/],
  ['node shim', /^kiln\/shim-node:/],
  ['python shim (+ bytecode)', /^kiln\/shim-python:/],
  ['java shim (jar + AppCDS)', /^kiln\/shim-java:/],
];

/** CPU seconds (user + sys) and wall seconds of a child, from /usr/bin/time. */
async function timed(cmd, args) {
  const { stderr } = await execFileP('/usr/bin/time', ['-f', 'KILN_TIME %e %U %S', cmd, ...args], {
    maxBuffer: 1 << 20,
  });
  const [, wall, user, sys] = /KILN_TIME (\S+) (\S+) (\S+)/.exec(stderr);
  return { wall: Number(wall), cpu: Number(user) + Number(sys) };
}

/** The same for work done in this process (node:zlib runs on the libuv pool: CPU is the process's). */
async function timedInProcess(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const cpu = process.cpuUsage(cpu0);
  return { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (cpu.user + cpu.system) / 1e6 };
}

const devNull = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

const CODECS = {
  'node-zlib-gzip-6': {
    compress: (src, dst) =>
      timedInProcess(() => pipeline(createReadStream(src), createGzip({ level: 6 }), createWriteStream(dst))),
    decompress: (file) => timedInProcess(() => pipeline(createReadStream(file), createGunzip(), devNull())),
  },
  'gzip-6': {
    compress: (src, dst) => timed('sh', ['-c', 'gzip -6 -n -c "$1" > "$2"', 'sh', src, dst]),
    decompress: (file) => timed('sh', ['-c', 'gzip -d -c "$1" > /dev/null', 'sh', file]),
  },
  'zstd-3': {
    compress: (src, dst) => timed('zstd', ['-3', '-T1', '-q', '-f', src, '-o', dst]),
    decompress: (file) => timed('sh', ['-c', 'zstd -d -q -c "$1" > /dev/null', 'sh', file]),
  },
  'zstd-9': {
    compress: (src, dst) => timed('zstd', ['-9', '-T1', '-q', '-f', src, '-o', dst]),
    decompress: (file) => timed('sh', ['-c', 'zstd -d -q -c "$1" > /dev/null', 'sh', file]),
  },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function layers(store, work) {
  const index = await store.readIndex();
  const found = [];
  for (const [what, ref] of BASE_REFS) {
    const entry = index.manifests.find((m) => {
      const name = m.annotations?.['org.opencontainers.image.ref.name'] ?? '';
      return typeof ref === 'string' ? name === ref : ref.test(name);
    });
    if (!entry) {
      console.error(`no ${what} layer in ${DATA}: build it first (kiln runtimes build)`);
      continue;
    }
    const image = await store.getImage(entry.digest);
    const layer = image.manifest.layers[0];
    found.push({ what, digest: layer.digest, file: store.blobPath(layer.digest), size: layer.size });
  }
  // Function layers, packed the way Kiln packs one (deterministic tar) from the examples:
  // a handler alone, and one with its node_modules (as a function that ships its deps).
  const fnStore = new ImageStore(path.join(work, 'store'));
  await fnStore.init();
  for (const [what, dir] of [
    ['function: hello-python (handler only)', 'examples/hello-python'],
    ['function: hello-ts with node_modules', 'examples/hello-ts'],
  ]) {
    const layer = await packLayer(fnStore, path.join(ROOT, dir), { deterministic: true });
    found.push({ what, digest: layer.digest, file: fnStore.blobPath(layer.digest), size: layer.size });
  }
  return found;
}

async function main() {
  const store = new ImageStore(path.join(DATA, 'images'));
  const work = await mkdtemp(path.join('/var/tmp', 'kiln-compression-'));
  const zstdVersion = (await execFileP('zstd', ['--version'])).stdout.trim();
  const gzipVersion = (await execFileP('gzip', ['--version'])).stdout.split('\n')[0];
  const rows = [];
  try {
    for (const layer of await layers(store, work)) {
      const row = { ...layer, codecs: {} };
      for (const [name, codec] of Object.entries(CODECS)) {
        const out = path.join(work, `out.${name}`);
        const c = [];
        const d = [];
        for (let i = 0; i < RUNS; i++) c.push(await codec.compress(layer.file, out));
        const size = (await stat(out)).size;
        for (let i = 0; i < RUNS; i++) d.push(await codec.decompress(out));
        row.codecs[name] = {
          size,
          compressCpu: median(c.map((x) => x.cpu)),
          compressWall: median(c.map((x) => x.wall)),
          decompressCpu: median(d.map((x) => x.cpu)),
          decompressWall: median(d.map((x) => x.wall)),
        };
        await rm(out, { force: true });
        console.error(`${layer.what} ${name}: ${JSON.stringify(row.codecs[name])}`);
      }
      delete row.file;
      rows.push(row);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const cpu = os.cpus();
  const result = {
    when: new Date().toISOString(),
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.replace(/\s+/g, ' ').trim(),
      kernel: os.release(),
      node: process.version,
      zstd: zstdVersion,
      gzip: gzipVersion,
      load: os.loadavg(),
    },
    runs: RUNS,
    rows,
  };
  const stamp = result.when.replace(/[:.]/g, '-');
  const dir = path.join(HERE, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `compression-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(path.join(dir, `compression-${stamp}.md`), table(result));
  process.stdout.write(table(result));
}

function table(result) {
  const mib = (n) => (n / 1048576).toFixed(n < 1048576 ? 3 : 1);
  const names = Object.keys(CODECS);
  const lines = [
    `Layer compression, ${result.when}, ${result.machine.cpuModel} (${result.machine.cpus} cores, load ${result.machine.load.map((l) => l.toFixed(1)).join(' ')}), ${result.runs} runs each, median; CPU seconds (user+sys), one thread`,
    '',
    `| layer | tar MiB | ${names.map((n) => `${n} MiB (ratio) · compress s · decompress s`).join(' | ')} |`,
    `|---|---:|${names.map(() => '---:').join('|')}|`,
  ];
  const totals = { size: 0 };
  for (const row of result.rows) {
    totals.size += row.size;
    const cells = names.map((n) => {
      const c = row.codecs[n];
      totals[n] ??= { size: 0, compressCpu: 0, decompressCpu: 0 };
      totals[n].size += c.size;
      totals[n].compressCpu += c.compressCpu;
      totals[n].decompressCpu += c.decompressCpu;
      return `${mib(c.size)} (${(c.size / row.size).toFixed(3)}) · ${c.compressCpu.toFixed(2)} · ${c.decompressCpu.toFixed(2)}`;
    });
    lines.push(`| ${row.what} | ${mib(row.size)} | ${cells.join(' | ')} |`);
  }
  lines.push(
    `| **all** | ${mib(totals.size)} | ${names
      .map((n) => {
        const t = totals[n];
        return `${mib(t.size)} (${(t.size / totals.size).toFixed(3)}) · ${t.compressCpu.toFixed(2)} · ${t.decompressCpu.toFixed(2)}`;
      })
      .join(' | ')} |`,
  );
  return `${lines.join('\n')}\n`;
}

await main();
