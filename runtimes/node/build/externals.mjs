// Packages esbuild cannot bundle (native addons: `.node` files, node-gyp packages) stay
// external and ship as files in /fn/node_modules, with the packages they depend on, where
// Node's own resolution finds them from /fn/kiln.bundle.mjs at run time.
import { cp, lstat, readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { inside } from './errors.mjs';

/** The `node_modules/<name>` or `node_modules/@scope/<name>` dir a path is in (the innermost), or undefined. */
export function packageDirOf(file) {
  const parts = file.split(path.sep);
  for (let i = parts.length - 2; i >= 0; i--) {
    if (parts[i] !== 'node_modules') continue;
    const scoped = parts[i + 1]?.startsWith('@');
    const end = i + (scoped ? 3 : 2);
    if (end > parts.length) continue;
    return parts.slice(0, end).join(path.sep);
  }
  return undefined;
}

/** Packages under `root/node_modules` holding a compiled addon (`*.node`) or a `binding.gyp`. */
export async function findNativePackages(root) {
  const modules = path.join(root, 'node_modules');
  const found = new Set();
  const st = await lstat(modules).catch(() => undefined);
  if (!st?.isDirectory()) return found;
  for (const rel of await readdir(modules, { recursive: true })) {
    if (!rel.endsWith('.node') && path.basename(rel) !== 'binding.gyp') continue;
    const dir = packageDirOf(path.join(modules, rel));
    if (dir) found.add(dir);
  }
  return found;
}

/** A package dir's name from its package.json, else from its path. */
export async function packageName(dir) {
  try {
    const { name } = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
    if (typeof name === 'string' && name) return name;
  } catch {
    // the path says it
  }
  const parts = dir.split(path.sep);
  return parts.at(-2)?.startsWith('@') ? `${parts.at(-2)}/${parts.at(-1)}` : parts.at(-1);
}

/**
 * Copy each package (real path → the same place under `out` as under `root`) and, the
 * way Node resolves them (its own node_modules, then each parent's), every package it
 * lists in `dependencies` or `optionalDependencies` that the bundle has.
 */
export async function shipPackages(packages, { root, bundle, out }) {
  const shipped = new Set();
  const queue = [...packages];
  while (queue.length > 0) {
    const dir = queue.shift();
    const real = await realpath(dir).catch(() => undefined);
    if (!real || !inside(real, bundle) || shipped.has(real)) continue;
    shipped.add(real);
    const rel = path.relative(root, dir);
    const target = inside(dir, root)
      ? path.join(out, rel)
      : path.join(out, 'node_modules', await packageName(real));
    await cp(real, target, { recursive: true, verbatimSymlinks: true, force: false, errorOnExist: false });
    let deps = {};
    try {
      const pkg = JSON.parse(await readFile(path.join(real, 'package.json'), 'utf8'));
      deps = { ...pkg.dependencies, ...pkg.optionalDependencies };
    } catch {
      // no package.json: nothing more to ship
    }
    for (const dep of Object.keys(deps)) {
      const found = await resolvePackage(dep, dir, root);
      if (found) queue.push(found);
    }
  }
  return [...shipped];
}

async function resolvePackage(name, from, root) {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (await lstat(candidate).catch(() => undefined)) return candidate;
    if (dir === root || !inside(dir, root)) return undefined;
    dir = path.dirname(dir);
  }
}
