import { execFile } from 'node:child_process';
import { lstat, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { mountOverlay, unmount } from '../image/overlay.js';

const execFileP = promisify(execFile);

/**
 * A writable overlay of snapshot dirs with /proc and /dev mounted, to run build steps in a
 * chroot (apt, a JVM's class-data dump). Everything written lands in `upper`, which is
 * the diff against the lower layers. Always `close()` it: it holds mounts.
 */
export class OverlayChroot {
  private constructor(
    readonly upper: string,
    readonly merged: string,
    private readonly work: string,
  ) {}

  /** `lowerDirs` bottom first, as in a manifest. */
  static async open(lowerDirs: string[], workDir: string): Promise<OverlayChroot> {
    const upper = path.join(workDir, 'upper');
    const work = path.join(workDir, 'work');
    const merged = path.join(workDir, 'merged');
    for (const d of [upper, work, merged]) await mkdir(d, { recursive: true });
    await mountOverlay(lowerDirs, merged, { upperdir: upper, workdir: work });
    const chroot = new OverlayChroot(upper, merged, work);
    try {
      await execFileP('mount', ['-t', 'proc', 'proc', path.join(merged, 'proc')]);
      await execFileP('mount', ['--bind', '/dev', path.join(merged, 'dev')]);
    } catch (err) {
      await chroot.close();
      throw err;
    }
    return chroot;
  }

  async run(argv: string[]): Promise<{ stdout: string; stderr: string }> {
    return execFileP('chroot', [this.merged, ...argv], {
      maxBuffer: 64 << 20,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', DEBIAN_FRONTEND: 'noninteractive' },
    });
  }

  async visible(rel: string): Promise<boolean> {
    return (await lstat(path.join(this.merged, rel)).catch(() => undefined)) !== undefined;
  }

  /** Unmount everything; `upper` stays, the overlay's work dir goes. */
  async close(): Promise<void> {
    await unmount(path.join(this.merged, 'dev'));
    await unmount(path.join(this.merged, 'proc'));
    await unmount(this.merged);
    await rm(this.work, { recursive: true, force: true });
  }
}
