import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../errors.js';
import { type BuildSandbox, SANDBOX_PATHS } from './sandbox.js';

/** A Debian package as dpkg has it installed. */
export interface DebianPackage {
  name: string;
  version: string;
  architecture: string;
}

/** What a stack of base layers holds, as its own tools say. */
export interface LayerInventory {
  /** Installed packages (`dpkg-query -W`), sorted by name. */
  debian: DebianPackage[];
  /** `/etc/apt/sources.list`: the mirror debootstrap and apt fetched from. */
  aptSources: string[];
  /** The first line `<runtimeCommand> --version` printed, when one was asked for. */
  runtimeVersion?: string;
}

/** `${db:Status-Abbrev}` is `ii ` for an installed package (dpkg-query(1)); the rest are known, not installed. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} syntax, not JavaScript's
const DPKG_FORMAT = '${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\n';

/**
 * Takes the inventory of a stack of base-layer snapshot dirs (bottom first) with the
 * stack's own programs, run in the build sandbox (docs/DESIGN.md §8) and never on the host:
 * its dpkg database is read by its own `dpkg-query`, its runtime asked its own version.
 * The stack has no `/out` for the sandbox's output bind (base layers are no builder), so a
 * layer of that one mount point goes on top.
 */
export async function takeInventory(
  sandbox: BuildSandbox,
  layers: string[],
  tmpDir: string,
  runtimeCommand?: string,
): Promise<LayerInventory> {
  const mountPoints = await mkdtemp(path.join(tmpDir, 'inventory-'));
  try {
    await chmod(mountPoints, 0o755);
    await mkdir(path.join(mountPoints, SANDBOX_PATHS.out), { recursive: true });
    const script = [
      'set -e',
      `dpkg-query -W -f '${DPKG_FORMAT}' > ${SANDBOX_PATHS.out}/dpkg`,
      `cat /etc/apt/sources.list > ${SANDBOX_PATHS.out}/sources 2>/dev/null || true`,
      // java prints -version to stderr; --version (JDK 9+), node and python3 to stdout.
      `if [ -n "$1" ]; then "$1" --version > ${SANDBOX_PATHS.out}/version 2>&1; fi`,
    ].join('\n');
    return await sandbox.run(
      {
        what: 'base layer inventory',
        layers: [...layers, mountPoints],
        args: ['/bin/sh', '-c', script, 'inventory', runtimeCommand ?? ''],
        env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/tmp', 'LANG=C'],
        limits: { deadlineMs: 60_000 },
      },
      async (output) => {
        const dpkg = await output.readFile('dpkg', 4 << 20);
        if (output.exitCode !== 0 || dpkg === undefined) {
          throw new KilnError(
            'base_build_failed',
            `listing a base layer's packages failed (exit ${output.exitCode}): ${output.log.slice(-1000)}`,
            500,
          );
        }
        const version = (await output.readFile('version'))?.split('\n')[0]?.trim();
        return {
          debian: parseDpkgList(dpkg),
          aptSources: ((await output.readFile('sources')) ?? '')
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l && !l.startsWith('#')),
          ...(runtimeCommand && version ? { runtimeVersion: version } : {}),
        };
      },
    );
  } finally {
    await rm(mountPoints, { recursive: true, force: true });
  }
}

/** The installed packages of `dpkg-query -W -f DPKG_FORMAT` output, sorted by name. */
export function parseDpkgList(text: string): DebianPackage[] {
  const packages: DebianPackage[] = [];
  for (const line of text.split('\n')) {
    const [status, name, version, architecture] = line.split('\t');
    if (!status?.startsWith('ii') || !name || !version) continue;
    packages.push({ name, version, architecture: architecture ?? '' });
  }
  return packages.sort((a, b) => a.name.localeCompare(b.name));
}

/** The packages of `after` that `before` lacks or has at another version: what a layer installed. */
export function packagesAdded(before: DebianPackage[], after: DebianPackage[]): DebianPackage[] {
  const had = new Map(before.map((p) => [`${p.name}:${p.architecture}`, p.version]));
  return after.filter((p) => had.get(`${p.name}:${p.architecture}`) !== p.version);
}
