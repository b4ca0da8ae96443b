import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { KilnError } from '../errors.js';

const execFileP = promisify(execFile);

/** Where a writable overlay keeps its changes (and overlayfs its scratch space). */
export interface OverlayUpper {
  upperdir: string;
  workdir: string;
}

/**
 * Mount an overlayfs of snapshot dirs at `target`. `layers` are bottom first, as in an
 * image manifest; overlayfs wants the topmost lowerdir first. With lowerdirs only the
 * mount is read-only, which is what an instance's rootfs should be; build steps pass an
 * `upper` to capture what they write.
 */
export async function mountOverlay(layers: string[], target: string, upper?: OverlayUpper): Promise<void> {
  if (layers.length < (upper ? 1 : 2)) {
    throw new KilnError('invalid_image', 'a read-only overlay rootfs needs at least two layers', 500);
  }
  let options = `lowerdir=${[...layers].reverse().join(':')}`;
  if (upper) options += `,upperdir=${upper.upperdir},workdir=${upper.workdir}`;
  try {
    await execFileP('mount', ['-t', 'overlay', 'overlay', '-o', options, target]);
  } catch (err) {
    throw new KilnError(
      'rootfs_mount_failed',
      `mounting the overlay rootfs failed: ${(err as Error).message}`,
      500,
    );
  }
}

export async function unmount(target: string): Promise<void> {
  // Lazy: a process still holding a file inside must not keep the instance alive.
  await execFileP('umount', ['-l', target]).catch(() => undefined);
}
