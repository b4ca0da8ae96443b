// An esbuild plugin that keeps a build inside the bundle (docs/DESIGN.md §8): every import
// is resolved by esbuild as usual, then its real path (every symlink followed) must be in
// the bundle, whatever the import says (`/etc/passwd`, `../../x`, a package's `main`, a
// tsconfig `paths` entry, `with { type: 'bytes' }`). Node's builtins stay external. Imports
// of a package Kiln ships as files (a native addon) become external, by package name.
import { realpath } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { inside } from './errors.mjs';

const RESOLVING = Symbol('kiln-confine');

/**
 * `bundle`: the bundle's real path. `external`: a Map of package dirs (real paths) to
 * package names, shipped as files; `.node` files met on the way are added to `addons`.
 */
export function confine({ bundle, root, external, addons }) {
  return {
    name: 'kiln-confine',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.[RESOLVING]) return undefined;
        if (args.kind !== 'entry-point' && isBuiltin(args.path)) return { path: args.path, external: true };
        const result = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          namespace: args.namespace,
          resolveDir: args.resolveDir,
          with: args.with,
          pluginData: { [RESOLVING]: true },
        });
        if (result.errors.length > 0) return { errors: result.errors };
        if (result.external || result.namespace !== 'file') {
          return refuse(args, `"${args.path}" does not resolve to a file in the bundle`);
        }
        const real = await realpath(result.path).catch(() => undefined);
        if (!real) return refuse(args, `"${args.path}" resolves to ${result.path}, which cannot be read`);
        if (!inside(real, bundle)) {
          return refuse(args, `"${args.path}" resolves outside the bundle; imports must stay inside it`);
        }
        const pkg = packageOf(real, external);
        if (pkg) return { path: externalSpecifier(args.path, pkg, real), external: true };
        if (real.endsWith('.node')) {
          addons.add(real);
          return { path: `./${path.relative(root, real)}`, external: true };
        }
        return {
          path: result.path,
          namespace: 'file',
          suffix: result.suffix,
          sideEffects: result.sideEffects,
          pluginData: result.pluginData,
        };
      });
    },
  };
}

function refuse(args, text) {
  return { errors: [{ text: `${text} (imported by ${args.importer || 'the entry'})` }] };
}

function packageOf(real, external) {
  for (const [dir, name] of external) {
    if (inside(real, dir)) return { dir, name };
  }
  return undefined;
}

/** The import as it is when it names the package, else the package's name and the file's path in it. */
function externalSpecifier(spec, pkg, real) {
  if (spec === pkg.name || spec.startsWith(`${pkg.name}/`)) return spec;
  const sub = path.relative(pkg.dir, real);
  return sub ? `${pkg.name}/${sub}` : pkg.name;
}
