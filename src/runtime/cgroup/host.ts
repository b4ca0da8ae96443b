import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathExists } from '../../disk.js';
import type { CgroupTree, CgroupVersion } from './cgroup.js';
import { CgroupV1Tree } from './v1.js';
import { CgroupV2Tree } from './v2.js';

/** Controllers every container's limits need (memory, pids, cpu quota). */
const REQUIRED = ['memory', 'pids', 'cpu'];
/** v1 controllers Kiln reads but can run without (CPU usage, freezing idle instances). */
const WANTED_V1 = ['cpuacct', 'freezer'];

export interface Mount {
  source: string;
  target: string;
  type: string;
  options: string[];
}

export async function readMounts(file = '/proc/mounts'): Promise<Mount[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [source = '', target = '', type = '', options = ''] = line.split(' ');
      return { source, target, type, options: options.split(',') };
    });
}

/**
 * Which cgroup version the host runs: v2 when `root` is the unified hierarchy (it has
 * `cgroup.controllers`), else v1, possibly hybrid (a cgroup2 mount beside the v1 ones,
 * as on this project's machine). This is what `kiln doctor` reports and what Kiln uses.
 */
export async function cgroupVersion(root = '/sys/fs/cgroup'): Promise<CgroupVersion> {
  return (await pathExists(path.join(root, 'cgroup.controllers'))) ? 'v2' : 'v1';
}

export async function detectCgroupTree(root = '/sys/fs/cgroup'): Promise<CgroupTree> {
  return (await cgroupVersion(root)) === 'v2' ? new CgroupV2Tree(root) : new CgroupV1Tree(root);
}

/** On a v1 host, the cgroup2 mount beside the v1 hierarchies and the controllers it holds. */
export async function hybridCgroup2(
  mounts: Mount[],
): Promise<{ target: string; controllers: string[] } | undefined> {
  const v2 = mounts.find((m) => m.type === 'cgroup2');
  if (!v2) return undefined;
  const text = await readFile(path.join(v2.target, 'cgroup.controllers'), 'utf8').catch(() => '');
  return { target: v2.target, controllers: text.trim().split(' ').filter(Boolean) };
}

export interface CgroupReport {
  version: CgroupVersion;
  ok: boolean;
  detail: string;
}

/** What `kiln doctor` says about cgroups: the version found and the controllers it lacks. */
export async function reportCgroups(root = '/sys/fs/cgroup', mounts?: Mount[]): Promise<CgroupReport> {
  const version = await cgroupVersion(root);
  if (version === 'v2') {
    const controllers = (await readFile(path.join(root, 'cgroup.controllers'), 'utf8')).trim().split(' ');
    const missing = REQUIRED.filter((c) => !controllers.includes(c));
    return {
      version,
      ok: missing.length === 0,
      detail: missing.length
        ? `cgroup v2 (unified at ${root}) lacks ${missing.join(', ')}`
        : `cgroup v2 (unified at ${root}) with ${REQUIRED.join(', ')}; freezer built in`,
    };
  }
  const table = mounts ?? (await readMounts());
  const v1 = new Set(table.filter((m) => m.type === 'cgroup').flatMap((m) => m.options));
  const missing = REQUIRED.filter((c) => !v1.has(c));
  const present = [...REQUIRED, ...WANTED_V1].filter((c) => v1.has(c));
  const hybrid = table.find((m) => m.type === 'cgroup2');
  const also = hybrid ? ` (hybrid: cgroup2 also mounted at ${hybrid.target})` : '';
  return {
    version,
    ok: missing.length === 0,
    detail: missing.length
      ? `cgroup v1${also} lacks ${missing.join(', ')}`
      : `cgroup v1${also} with ${present.join(', ')}`,
  };
}
