import { KilnError } from '../errors.js';
import { checkedStoreName, STORE_NAME } from './store-name.js';

/**
 * A named volume (`kiln volume create`) mounted into every instance of a function: the
 * spec's `volumes: [{name, path, readOnly?}]`. Pure rules, shared by the gateway (spec
 * validation), the CLI (`--volume NAME:/path[:ro]`) and `kiln.yaml`.
 */
export interface VolumeMount {
  name: string;
  /** Where the instance sees it: an absolute path of plain components. */
  path: string;
  /** Mounted read-only (writes fail with EROFS); absent: read-write. */
  readOnly?: boolean;
}

/** Docker's volume names: a name is a directory of the data dir (`STORE_NAME`). */
export const VOLUME_NAME = STORE_NAME;

/** Volumes one function may mount. */
export const MAX_VOLUME_MOUNTS = 16;

/** Mount paths are plain components (no `.`, `..`, `//`, `:` or `,`: the flag form splits on them). */
const PATH_COMPONENT = /^[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*$/;
const MAX_PATH = 256;

/**
 * Paths a volume may not cover, be under or be a parent of (a parent would hide them):
 * what the OCI spec mounts itself (`/proc`, `/sys`, `/dev`, `/tmp`: src/runtime/oci-spec.ts),
 * the function's code (`/fn`) and the shim (`/opt/kiln`), secrets (`/run/secrets`), and the
 * image's system dirs, whose programs every instance runs: a volume there, written by one
 * function, would be code another function sharing it executes.
 */
export const RESERVED_MOUNT_PATHS = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/fn',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/opt/kiln',
  '/proc',
  '/run/kiln',
  '/run/secrets',
  '/sbin',
  '/sys',
  '/tmp',
  '/usr',
] as const;

function invalid(message: string): KilnError {
  return new KilnError('invalid_spec', message);
}

export function validateVolumeName(name: unknown): string {
  return checkedStoreName(name, 'volume');
}

/** A mount path, or `invalid_spec` saying what is wrong with it. */
export function checkMountPath(raw: unknown): string {
  if (typeof raw !== 'string' || !raw.startsWith('/'))
    throw invalid(`volume path ${JSON.stringify(raw)} must be an absolute path like "/data"`);
  if (raw.length > MAX_PATH) throw invalid(`volume path is longer than ${MAX_PATH} characters`);
  const parts = raw.split('/').slice(1);
  if (raw === '/' || parts.some((p) => !PATH_COMPONENT.test(p)))
    throw invalid(
      `volume path "${raw}" must be "/" and names of A-Z, a-z, 0-9, ".", "_", "-", "@", "+" (no "..", "//", trailing "/" or "/" alone)`,
    );
  for (const reserved of RESERVED_MOUNT_PATHS) {
    if (raw === reserved || raw.startsWith(`${reserved}/`) || reserved.startsWith(`${raw}/`))
      throw invalid(
        `volume path "${raw}" ${raw === reserved ? 'is' : raw.startsWith(reserved) ? 'is under' : 'would hide'} ${reserved}, which Kiln or the image needs: mount it elsewhere (e.g. /data, /var/lib/app, /mnt/NAME)`,
      );
  }
  return raw;
}

/**
 * The spec's `volumes`: a list of `{name, path, readOnly?}`, or a string (a query parameter):
 * JSON, or comma-separated `NAME:/path[:ro]` (`kiln deploy --volume`). Each name and each path
 * once, no path inside another (its mount point would be made inside the other volume); sorted by path.
 */
export function parseVolumeMounts(raw: unknown): VolumeMount[] {
  if (raw === undefined || raw === '' || raw === null) return [];
  let list: unknown = raw;
  if (typeof raw === 'string') {
    if (raw.trim().startsWith('[')) {
      try {
        list = JSON.parse(raw);
      } catch {
        throw invalid('"volumes" is not valid JSON');
      }
    } else list = raw.split(',').map((item) => parseVolumeFlag(item.trim()));
  }
  if (!Array.isArray(list))
    throw invalid('"volumes" must be a list of {name, path, readOnly} (or of "NAME:/path[:ro]")');
  if (list.length > MAX_VOLUME_MOUNTS)
    throw invalid(`"volumes" has ${list.length} entries; at most ${MAX_VOLUME_MOUNTS}`);
  const mounts = list.map(volumeMountOf).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 0; i < mounts.length; i++) {
    for (let j = 0; j < mounts.length; j++) {
      if (i === j) continue;
      const a = mounts[i]!;
      const b = mounts[j]!;
      if (i < j && a.name === b.name) throw invalid(`volume "${a.name}" is mounted twice: once is enough`);
      if (i < j && a.path === b.path) throw invalid(`two volumes are mounted at ${a.path}`);
      if (b.path.startsWith(`${a.path}/`))
        throw invalid(`volume "${b.name}" at ${b.path} is inside volume "${a.name}" at ${a.path}`);
    }
  }
  return mounts;
}

function volumeMountOf(item: unknown): VolumeMount {
  // Compose's short form in a list (`- uploads:/data:ro`) as well as the long one.
  if (typeof item === 'string') item = parseVolumeFlag(item.trim());
  if (typeof item !== 'object' || item === null || Array.isArray(item))
    throw invalid('each of "volumes" is {name, path, readOnly} or "NAME:/path[:ro]"');
  const { name, path, readOnly, ...rest } = item as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw invalid(`unknown volume field(s): ${extra.join(', ')} (use name, path, readOnly)`);
  if (typeof name !== 'string' || !VOLUME_NAME.test(name))
    throw invalid(`volume name ${JSON.stringify(name)} is invalid: use letters, digits, "_", "." and "-"`);
  if (readOnly !== undefined && typeof readOnly !== 'boolean')
    throw invalid(`volume "${name}": "readOnly" must be true or false`);
  const mount: VolumeMount = { name, path: checkMountPath(path) };
  if (readOnly) mount.readOnly = true;
  return mount;
}

/** `NAME:/path` or `NAME:/path:ro` (`:rw` allowed, Docker's `-v` form), as `kiln deploy --volume` takes it. */
export function parseVolumeFlag(flag: string): VolumeMount {
  const [name, path, mode, ...rest] = flag.split(':');
  if (!name || !path || rest.length || (mode !== undefined && mode !== 'ro' && mode !== 'rw'))
    throw invalid(`volume "${flag}" must be NAME:/path or NAME:/path:ro`);
  return mode === 'ro' ? { name, path, readOnly: true } : { name, path };
}

/** The flag form of a mount (`NAME:/path[:ro]`), for listings. */
export function formatVolumeMount(mount: VolumeMount): string {
  return `${mount.name}:${mount.path}${mount.readOnly ? ':ro' : ''}`;
}
