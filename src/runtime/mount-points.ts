import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../errors.js';

/**
 * Mount points for bind mounts at paths the image may lack (a volume at `/data`). The rootfs
 * is an overlay of lowerdirs only, read-only, so the OCI runtime cannot make a missing mount
 * point (mkdir fails with EROFS); instead the instance gets one more lowerdir on top holding
 * just those dirs. A dir there merges with a dir of the image at the same path (overlayfs
 * shows both's entries), but would hide a symlink or a file of the image: `/var/run` is a
 * symlink to `/run` in Debian, and a dir over it would cut that link for every program. So
 * every component of a path that the image has must be a dir, or the start is refused.
 */
export async function makeMountPointLayer(
  layers: readonly string[],
  paths: readonly string[],
  into: string,
): Promise<void> {
  for (const target of paths) {
    const parts = target.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      const kind = await imageEntry(layers, rel);
      if (kind !== 'dir' && kind !== 'absent') {
        throw new KilnError(
          'invalid_volume_path',
          `volume path ${target}: /${rel} is a ${kind} in the function's image, not a directory: mount the volume elsewhere`,
        );
      }
    }
    await mkdir(path.join(into, ...parts), { recursive: true, mode: 0o755 });
  }
}

type EntryKind = 'dir' | 'absent' | 'symlink' | 'file';

/**
 * What the image's merged view has at `rel`: the entry of the topmost layer that has one
 * (bottom layer first in `layers`, as in a manifest). An overlay whiteout (a 0/0 char
 * device, how Kiln unpacks `.wh.` entries) says it is absent, and so does a lower layer's
 * non-dir under a path a higher layer has as a dir (overlayfs merges dirs with dirs only).
 * Each layer is walked one component at a time, going down only through dirs of that layer:
 * a symlink in a layer (an image's content) is never followed on the host. An opaque dir's
 * xattr is not read (Node has no getxattr): an entry it hides in a lower layer may be taken
 * for present, which at worst refuses a path or skips a mkdir the top layer makes anyway.
 */
export async function imageEntry(layers: readonly string[], rel: string): Promise<EntryKind> {
  const parts = rel.split('/').filter(Boolean);
  // How many leading components a higher layer has as dirs.
  let dirs = 0;
  for (let i = layers.length - 1; i >= 0; i--) {
    let at = layers[i]!;
    for (let j = 0; j < parts.length; j++) {
      at = path.join(at, parts[j]!);
      const st = await lstat(at).catch(() => undefined);
      // This layer has nothing here: a lower one may.
      if (!st) break;
      const isDir = st.isDirectory();
      if (!isDir && j < dirs) return 'absent';
      if (st.isCharacterDevice() && st.rdev === 0) return 'absent';
      if (!isDir) return st.isSymbolicLink() ? 'symlink' : 'file';
      if (j === parts.length - 1) return 'dir';
      dirs = Math.max(dirs, j + 1);
    }
  }
  return 'absent';
}
