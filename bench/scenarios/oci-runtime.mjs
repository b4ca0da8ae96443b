// The OCI runtime on its own: `crun run` of /bin/true with the spec Kiln builds for an
// instance (same namespaces, cgroup limits, seccomp, overlay rootfs), spawn → exit. Splits
// Kiln's "crun create+start → shim ready" phase into the runtime's share and the shim's.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { selectOciRuntime } from '../../dist/runtime/oci/select.js';
import { buildOciSpec } from '../../dist/runtime/oci-spec.js';
import { functionSeccompFilter } from '../../dist/runtime/seccomp/function-filter.js';

export async function runOciRuntime({ workDir, root, runs, warmup }) {
  const oci = await selectOciRuntime(path.join('/run/kiln', 'bench'));
  const bundle = path.join(workDir, 'oci-bundle');
  await rm(bundle, { recursive: true, force: true });
  await mkdir(bundle, { recursive: true });
  const samples = [];
  // The filter functions get, in the form this runtime takes (crun: precompiled BPF).
  const seccomp = functionSeccompFilter(oci.precompiledSeccomp);
  for (let i = 0; i < warmup + runs; i++) {
    const id = `kiln-bench-true-${i}`;
    const spec = buildOciSpec({
      id,
      hostname: 'bench',
      rootfs: root,
      args: ['/bin/true'],
      env: ['PATH=/usr/bin:/bin'],
      cwd: '/',
      uid: 65534,
      gid: 65534,
      limits: { memoryBytes: 128 * 1024 * 1024, pids: 64 },
      binds: [],
      tmpSizeMb: 64,
      nofile: 4096,
      seccomp,
    });
    await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
    const started = performance.now();
    const { exited } = oci.run(id, bundle, {});
    const exit = await exited;
    const ms = performance.now() - started;
    if (exit.code !== 0) throw new Error(`${oci.name} run /bin/true exited with ${exit.code ?? exit.signal}`);
    if (i >= warmup) samples.push(ms);
  }
  return { runtime: oci.name, samples };
}
