import { OciCliDriver } from './cli-driver.js';

/**
 * runc, the reference runtime: Kiln's fallback when crun is missing (or chosen with
 * `KILN_OCI_RUNTIME=runc`). runc 1.1 runs on hybrid cgroup hosts as they are, ~15 ms
 * slower to start a container than crun (docs/DESIGN.md §3). It answers `runc features`.
 */
export class RuncDriver extends OciCliDriver {
  readonly name = 'runc';
  readonly precompiledSeccomp = false;
  /** runc run (not detached) gives the container pipes of its own on 0-2 (utils_linux.go setupIO). */
  override readonly listenFd = 3;
  /** runc 1.1 ignores a mount's `uidMappings` (idmapped mounts came in runc 1.2): no volumes. */
  override readonly idmappedMounts = false;
}
