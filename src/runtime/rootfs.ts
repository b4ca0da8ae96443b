import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { KilnError } from '../errors.js';

const execFileP = promisify(execFile);

/**
 * Mount a read-only overlayfs of snapshot dirs at `target`. `layers` are bottom first,
 * as in an image manifest; overlayfs wants the topmost lowerdir first. With lowerdirs
 * only and no upperdir the mount is read-only, which is what the rootfs should be.
 */
export async function mountOverlay(layers: string[], target: string): Promise<void> {
  if (layers.length < 2) {
    throw new KilnError('invalid_image', 'an overlay rootfs needs at least two layers', 500);
  }
  const lowerdir = [...layers].reverse().join(':');
  try {
    await execFileP('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerdir}`, target]);
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
