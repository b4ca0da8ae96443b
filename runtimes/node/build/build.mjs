// Kiln's Node build step. It runs in the node builder container (docs/DESIGN.md §8), never
// on the host: it is the only code that reads a Node bundle's content. In: the bundle
// read-only at $KILN_BUILD_SRC (/src) and the job at $KILN_BUILD_JOB/job.json
// (`{handler?, bundle}`). Out: the function's files in $KILN_BUILD_OUT/fn and
// $KILN_BUILD_OUT/result.json, `{ok: true, handler, entry, externals}` or
// `{ok: false, code, message}`; Kiln reads both back, checked.
import { cp, mkdir, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { confine } from './confine.mjs';
import { CODE_EXT, findEntry } from './entry.mjs';
import { BuildError } from './errors.mjs';
import { findNativePackages, packageDirOf, packageName, shipPackages } from './externals.mjs';

/** The bundle esbuild writes into /fn; its name is unlikely to meet a user's file. */
const BUNDLE_FILE = 'kiln.bundle.mjs';
/** Rounds of "make the packages esbuild failed in external and try again". */
const MAX_ROUNDS = 4;

const SRC = process.env.KILN_BUILD_SRC || '/src';
const OUT = process.env.KILN_BUILD_OUT || '/out';
const JOB = process.env.KILN_BUILD_JOB || '/kiln';

async function main() {
  const job = JSON.parse(await readFile(path.join(JOB, 'job.json'), 'utf8'));
  const bundle = await realpath(SRC);
  const fn = path.join(OUT, 'fn');
  await mkdir(fn, { recursive: true });
  const { root, file, exportName } = await findEntry(bundle, job.handler);
  if (job.bundle === false) return shipAsIs({ root, file, exportName, fn });
  return bundleEntry({ bundle, root, file, exportName, fn });
}

/** `bundle: false`: the files as they are; the shim imports the entry itself. */
async function shipAsIs({ root, file, exportName, fn }) {
  if (!['.mjs', '.js', '.cjs'].includes(path.extname(file))) {
    throw new BuildError(
      'build_failed',
      `${file} is not JavaScript: with "bundle": false, Node runs the files as they are`,
    );
  }
  await copyTop(root, fn, () => true);
  const base = file.slice(0, -path.extname(file).length);
  return { handler: exportName ? `${base}.${exportName}` : file, entry: file, externals: [] };
}

async function bundleEntry({ bundle, root, file, exportName, fn }) {
  const external = new Map();
  for (const dir of await findNativePackages(root)) external.set(await realpath(dir), await packageName(dir));
  const addons = new Set();
  for (let round = 1; ; round++) {
    try {
      await esbuild.build({
        absWorkingDir: root,
        entryPoints: [path.join(root, file)],
        outfile: path.join(fn, BUNDLE_FILE),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node22',
        logLevel: 'silent',
        nodePaths: [],
        plugins: [confine({ bundle, root, external, addons })],
        // CommonJS packages bundled into ESM still call require() for node builtins.
        banner: {
          js: "import { createRequire as __kilnCreateRequire } from 'node:module'; const require = __kilnCreateRequire(import.meta.url);",
        },
      });
      break;
    } catch (err) {
      const errors = err.errors ?? [];
      // A package esbuild cannot bundle (its code is not what esbuild reads): ship it as files.
      const failed = new Set();
      for (const e of errors) {
        const where = e.location?.file ? path.resolve(root, e.location.file) : undefined;
        const dir = where && packageDirOf(where);
        if (dir) failed.add(dir);
      }
      const fresh = [];
      for (const dir of failed) {
        const real = await realpath(dir).catch(() => undefined);
        if (real && !external.has(real)) fresh.push([real, await packageName(dir)]);
      }
      if (fresh.length === 0 || round >= MAX_ROUNDS) throw buildFailure(file, err);
      for (const [real, name] of fresh) external.set(real, name);
    }
  }
  await copyTop(root, fn, (src) => !CODE_EXT.includes(path.extname(src)), ['node_modules']);
  const shipped = await shipPackages([...external.keys()], { root, bundle, out: fn });
  for (const addon of addons) {
    const rel = path.relative(root, addon);
    if (!rel.startsWith('..')) await cp(addon, path.join(fn, rel), { force: false, errorOnExist: false });
  }
  const base = BUNDLE_FILE.slice(0, -'.mjs'.length);
  return {
    handler: exportName ? `${base}.${exportName}` : BUNDLE_FILE,
    entry: file,
    externals: shipped.map((dir) => path.relative(root, dir)),
  };
}

/** Every top-level item of `from` but kiln.json (and `skip`), to `to`, keeping symlinks as they are. */
async function copyTop(from, to, filter, skip = []) {
  for (const name of await readdir(from)) {
    if (name === 'kiln.json' || skip.includes(name)) continue;
    await cp(path.join(from, name), path.join(to, name), { recursive: true, verbatimSymlinks: true, filter });
  }
}

function buildFailure(file, err) {
  const lines = (err.errors ?? [])
    .slice(0, 10)
    .map((m) =>
      m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text,
    );
  return new BuildError('build_failed', `building ${file} failed:\n${lines.join('\n') || err.message}`);
}

async function report(result) {
  await writeFile(path.join(OUT, 'result.json'), JSON.stringify(result));
}

main().then(
  (built) => report({ ok: true, ...built }),
  (err) =>
    report(
      err instanceof BuildError
        ? { ok: false, code: err.code, message: err.message }
        : { ok: false, code: 'build_failed', message: `the build failed: ${err?.message ?? err}` },
    ),
);
