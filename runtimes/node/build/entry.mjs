// Finds a Node function's entry file from the spec's handler, the way docs/DESIGN.md §5 says
// Lambda does: `path/to/file.export` or an entry file alone (default: package.json `main`,
// else `index.*`). Runs in the node builder, never on the host: package.json is bundle
// content. Every candidate must be a regular file whose real path is inside the bundle.
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { BuildError, inside } from './errors.mjs';

export const CODE_EXT = ['.mjs', '.js', '.cjs', '.ts', '.mts', '.cts'];

/**
 * `{root, file, exportName}`: `file` relative to `root`. The bundle's layout is kept; only
 * when the entry is not found and the bundle is one top-level dir (`tar czf b.tgz myfn/`,
 * a kiln.json beside it allowed) is that dir the root.
 */
export async function findEntry(bundle, handler) {
  try {
    return { root: bundle, ...(await resolveEntry(bundle, bundle, handler)) };
  } catch (err) {
    if (err.code !== 'entry_not_found') throw err;
    const names = (await readdir(bundle)).filter((n) => n !== 'kiln.json');
    if (names.length === 1 && (await lstat(path.join(bundle, names[0]))).isDirectory()) {
      const inner = path.join(bundle, names[0]);
      const found = await resolveEntry(inner, bundle, handler).catch(() => undefined);
      if (found) return { root: inner, ...found };
    }
    throw err;
  }
}

export async function resolveEntry(root, bundle, handler) {
  if (handler) {
    const whole = await findCodeFile(root, bundle, handler);
    if (whole) return { file: whole };
    const dot = handler.lastIndexOf('.');
    if (dot > 0 && !handler.slice(dot).includes('/')) {
      const file = await findCodeFile(root, bundle, handler.slice(0, dot));
      if (file) return { file, exportName: handler.slice(dot + 1) };
    }
    throw new BuildError(
      'entry_not_found',
      `handler "${handler}" names no file in the bundle (tried ${CODE_EXT.join(', ')})`,
    );
  }
  const pkgPath = path.join(root, 'package.json');
  const pkg = await lstat(pkgPath).catch(() => undefined);
  if (pkg) {
    let main;
    try {
      if (!pkg.isFile() || pkg.size > 1024 * 1024) throw new Error('not a small file');
      main = JSON.parse(await readFile(pkgPath, 'utf8')).main;
    } catch {
      throw new BuildError('invalid_bundle', 'package.json in the bundle is not valid JSON');
    }
    if (typeof main === 'string') {
      const file = await findCodeFile(root, bundle, main.replace(/^\.\//, ''));
      if (file) return { file };
      throw new BuildError('entry_not_found', `package.json "main" is "${main}", which is not in the bundle`);
    }
  }
  const index = await findCodeFile(root, bundle, 'index');
  if (index) return { file: index };
  throw new BuildError(
    'entry_not_found',
    'no entry file: add index.mjs/index.js/index.ts, set "main" in package.json, or pass handler=file.export',
  );
}

async function findCodeFile(root, bundle, base) {
  const candidates = CODE_EXT.includes(path.extname(base)) ? [base] : CODE_EXT.map((ext) => base + ext);
  for (const rel of candidates) {
    const abs = path.resolve(root, rel);
    if (!inside(abs, root)) continue;
    const real = await realpath(abs).catch(() => undefined);
    if (!real || !inside(real, bundle)) continue;
    if ((await stat(real)).isFile()) return path.relative(root, abs);
  }
  return undefined;
}
