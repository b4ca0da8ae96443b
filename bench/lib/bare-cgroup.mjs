// A cgroup for the bench's bare server beside Kiln's containers: the same parent (`kiln`)
// and the same one-core quota as a function container with the default `cpus: 1`.
// Why: under CFS group scheduling a cgroup competes as one entity, so on a busy host a
// process in `kiln/<id>` gets far less CPU than the same process in the root cgroup
// (measured here at load 14: a bare node server moved into `kiln/` dropped from 2890 to
// 403 req/s). Comparing Kiln with a bare server in the root cgroup measures that, not Kiln.
import { existsSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

const V1 = '/sys/fs/cgroup/cpu/kiln';
const V2 = '/sys/fs/cgroup/kiln';

/** Move `pid` into `kiln/<name>` with a one-core quota; returns how to undo it, or undefined when there is no such tree. */
export async function confineLikeAFunction(pid, name) {
  const v1 = existsSync(V1);
  const parent = v1 ? V1 : existsSync(path.join(V2, 'cgroup.procs')) ? V2 : undefined;
  if (!parent) return undefined;
  const dir = path.join(parent, name);
  await mkdir(dir, { recursive: true });
  if (v1) await writeFile(path.join(dir, 'cpu.cfs_quota_us'), '100000');
  else await writeFile(path.join(dir, 'cpu.max'), '100000 100000');
  await writeFile(path.join(dir, 'cgroup.procs'), String(pid));
  return async () => {
    // The process is killed first; an empty cgroup can then be removed.
    await rmdir(dir).catch(() => undefined);
  };
}
