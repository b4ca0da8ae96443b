import { cp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { pathExists } from '../../disk.js';
import { KilnError } from '../../errors.js';
import type { FunctionBuild } from '../language.js';

const CODE_EXT = ['.mjs', '.js', '.cjs', '.ts', '.mts', '.cts'];
/** The bundle esbuild writes into /fn; its name is unlikely to meet a user's file. */
export const NODE_BUNDLE_FILE = 'kiln.bundle.mjs';

export interface NodeEntry {
  /** Relative to the bundle dir. */
  file: string;
  exportName?: string;
}

/**
 * Resolve the `handler` spec field the way Lambda does (docs/DESIGN.md §5): a file with or
 * without its extension (`src/index.ts`, `src/index`), else `file.export`
 * (`app.lambdaHandler`). Without a handler: package.json `main`, else `index.*`.
 */
export async function resolveNodeEntry(dir: string, handler?: string): Promise<NodeEntry> {
  if (handler) {
    const whole = await findCodeFile(dir, handler);
    if (whole) return { file: whole };
    const dot = handler.lastIndexOf('.');
    if (dot > 0 && !handler.slice(dot).includes('/')) {
      const file = await findCodeFile(dir, handler.slice(0, dot));
      if (file) return { file, exportName: handler.slice(dot + 1) };
    }
    throw new KilnError(
      'entry_not_found',
      `handler "${handler}" names no file in the bundle (tried ${CODE_EXT.join(', ')})`,
    );
  }
  const pkgPath = path.join(dir, 'package.json');
  if (await pathExists(pkgPath)) {
    let main: unknown;
    try {
      main = (JSON.parse(await readFile(pkgPath, 'utf8')) as { main?: unknown }).main;
    } catch {
      throw new KilnError('invalid_bundle', 'package.json in the bundle is not valid JSON');
    }
    if (typeof main === 'string') {
      const file = await findCodeFile(dir, main.replace(/^\.\//, ''));
      if (file) return { file };
      throw new KilnError('entry_not_found', `package.json "main" is "${main}", which is not in the bundle`);
    }
  }
  const index = await findCodeFile(dir, 'index');
  if (index) return { file: index };
  throw new KilnError(
    'entry_not_found',
    'no entry file: add index.mjs/index.js/index.ts, set "main" in package.json, or pass handler=file.export',
  );
}

async function findCodeFile(dir: string, base: string): Promise<string | undefined> {
  const candidates = CODE_EXT.includes(path.extname(base)) ? [base] : CODE_EXT.map((ext) => base + ext);
  for (const rel of candidates) {
    const abs = path.resolve(dir, rel);
    if (!abs.startsWith(dir + path.sep)) continue;
    if (await pathExists(abs)) return path.relative(dir, abs);
  }
  return undefined;
}

/**
 * esbuild bundles the entry with everything it imports from the bundle's own
 * `node_modules` into one ESM file. Other files (templates, JSON data) are copied beside
 * it so that code reading paths relative to its own dir still finds them.
 */
export async function buildNode(srcDir: string, outDir: string, handler?: string): Promise<FunctionBuild> {
  const entry = await resolveNodeEntry(srcDir, handler);
  await copyAssets(srcDir, outDir);
  try {
    await esbuild.build({
      absWorkingDir: srcDir,
      entryPoints: [path.join(srcDir, entry.file)],
      outfile: path.join(outDir, NODE_BUNDLE_FILE),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      logLevel: 'silent',
      // CommonJS packages bundled into ESM still call require() for node builtins.
      banner: {
        js: "import { createRequire as __kilnCreateRequire } from 'node:module'; const require = __kilnCreateRequire(import.meta.url);",
      },
    });
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    const messages = (failure.errors ?? [])
      .slice(0, 10)
      .map((m) =>
        m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text,
      );
    throw new KilnError(
      'build_failed',
      `building ${entry.file} failed:\n${messages.join('\n') || failure.message}`,
    );
  }
  const base = NODE_BUNDLE_FILE.slice(0, -'.mjs'.length);
  return { handler: entry.exportName ? `${base}.${entry.exportName}` : NODE_BUNDLE_FILE, entry: entry.file };
}

async function copyAssets(srcDir: string, outDir: string): Promise<void> {
  for (const item of await readdir(srcDir, { withFileTypes: true })) {
    if (item.name === 'node_modules' || item.name === 'kiln.json') continue;
    await cp(path.join(srcDir, item.name), path.join(outDir, item.name), {
      recursive: true,
      verbatimSymlinks: true,
      // Code is in the bundle already; everything else is an asset.
      filter: (src) => !CODE_EXT.includes(path.extname(src)),
    });
  }
}
