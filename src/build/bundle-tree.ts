import { KilnError } from '../errors.js';

/**
 * The shape of a bundle (or of a build's output) as data: every path, what it is, and where
 * its links lead. Pure: built entry by entry while a tar streams in (or while a build's
 * output dir is walked), then `checkLinks` resolves every symlink the way the kernel would
 * (following each chain through the tree) before any link is made on disk.
 */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface TreeEntry {
  kind: EntryKind;
  /** symlink: the raw target; hardlink: the normalized path of the file it names. */
  target?: string;
  /** Regular files: whether any execute bit was set (the copy is 0755, else 0644). */
  executable?: boolean;
}

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS, fs/namei.c). */
const MAX_LINK_HOPS = 40;
const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;

function unsafePath(entry: string, why: string): KilnError {
  return new KilnError('unsafe_path', `bundle entry "${printable(entry)}" ${why}`);
}

function unsafeLink(entry: string, why: string): KilnError {
  return new KilnError('unsafe_link', `bundle entry "${printable(entry)}" ${why}`);
}

/** Paths go into messages: control characters shown escaped, long ones cut. */
function printable(p: string): string {
  const shown = p.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
    /[\u0000-\u001f\u007f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return shown.length > 200 ? `${shown.slice(0, 200)}…` : shown;
}

/** Refusals that apply to every path string a bundle carries (entry names and link targets). */
function badPathText(p: string): string | undefined {
  if (p.length === 0) return 'is empty';
  if (CONTROL.test(p)) return 'has control characters';
  if (p.includes('\\')) return 'has a backslash (bundles use "/" only)';
  if (/^[a-zA-Z]:/.test(p)) return 'starts with a drive letter';
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  return undefined;
}

/**
 * An entry's path relative to the bundle root, `a/b/c` (no `./`, no trailing `/`); `''`
 * for the root itself. Refused: absolute paths, `..`, backslashes, drive letters, control
 * characters, names over 255 bytes.
 */
export function normalizeEntryPath(raw: string): string {
  const bad = badPathText(raw);
  if (bad) throw unsafePath(raw, bad);
  if (raw.startsWith('/')) throw unsafePath(raw, 'is an absolute path');
  const parts = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw unsafePath(raw, 'climbs out of the bundle with ".."');
  if (parts.some((s) => Buffer.byteLength(s) > MAX_NAME_BYTES)) {
    throw unsafePath(raw, `has a name longer than ${MAX_NAME_BYTES} bytes`);
  }
  return parts.join('/');
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/** Where a resolution ended: a path in the tree, whether something is there, links followed. */
interface Resolved {
  at: string;
  exists: boolean;
  hops: number;
}

export class BundleTree {
  private readonly entries = new Map<string, TreeEntry>([['', { kind: 'dir' }]]);
  private readonly resolved = new Map<string, Resolved | 'resolving'>();
  private linkCount = 0;

  get size(): number {
    return this.entries.size - 1;
  }

  get(p: string): TreeEntry | undefined {
    return this.entries.get(p);
  }

  /** Every path (root excluded) with its entry, in the order they were added. */
  list(): [string, TreeEntry][] {
    return [...this.entries].filter(([p]) => p !== '');
  }

  /**
   * Record an entry at a normalized path. Its parents become dirs when the bundle did not
   * list them. Refused: a path below a file or link (writing it would go through a link),
   * the same path twice (dirs excepted), a hardlink to anything but a file seen before it.
   */
  add(p: string, entry: TreeEntry): void {
    if (p === '') {
      if (entry.kind === 'dir') return;
      throw unsafePath('.', 'is the bundle root and must be a directory');
    }
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      const found = this.entries.get(ancestor);
      if (!found) this.entries.set(ancestor, { kind: 'dir' });
      else if (found.kind !== 'dir')
        throw unsafePath(p, `is inside "${printable(ancestor)}", which is a ${found.kind}`);
    }
    const existing = this.entries.get(p);
    if (existing) {
      if (existing.kind === 'dir' && entry.kind === 'dir') return;
      throw new KilnError('duplicate_entry', `bundle entry "${printable(p)}" appears more than once`);
    }
    if (entry.kind === 'symlink') {
      const target = entry.target ?? '';
      const bad = badPathText(target);
      if (bad) throw unsafeLink(p, `is a symlink whose target ${bad}`);
      if (target.startsWith('/'))
        throw unsafeLink(p, `is a symlink to "${printable(target)}", an absolute path`);
      this.linkCount++;
    }
    if (entry.kind === 'hardlink') {
      const target = entry.target ?? '';
      if (this.entries.get(target)?.kind !== 'file') {
        throw unsafeLink(
          p,
          `is a hardlink to "${printable(target)}", which is not a file earlier in the bundle`,
        );
      }
    }
    this.entries.set(p, entry);
  }

  /**
   * Resolve every symlink as the kernel would, following each chain through the tree
   * (`d → .` then `u → d/..` leaves the bundle, though `d/..` alone looks harmless), and
   * refuse any that ends outside the root or loops. A link whose target does not exist may
   * stay (it fails at run time, inside), as long as its unresolved rest stays inside too.
   */
  checkLinks(): void {
    if (this.linkCount === 0) return;
    for (const [p, entry] of this.entries) {
      if (entry.kind !== 'symlink') continue;
      this.resolveLink(p);
    }
  }

  /** Each link is resolved once and remembered: linear in the links, however they chain. */
  private resolveLink(p: string): Resolved {
    const done = this.resolved.get(p);
    if (done === 'resolving') throw unsafeLink(p, 'is a symlink that loops back to itself');
    if (done) return done;
    this.resolved.set(p, 'resolving');
    const target = this.entries.get(p)?.target ?? '';
    const result = this.walk(p, parentOf(p), target);
    if (result.hops > MAX_LINK_HOPS) {
      throw unsafeLink(p, `is a chain of more than ${MAX_LINK_HOPS} symlinks`);
    }
    this.resolved.set(p, result);
    return result;
  }

  /** Follow `rel` from dir `from` through the tree; `link` names the entry being checked. */
  private walk(link: string, from: string, rel: string): Resolved {
    let cur = from;
    let hops = 1;
    // Set once the kernel would have stopped (ENOENT, ENOTDIR): the rest is followed by
    // name only, and must still stay inside.
    let broken = false;
    for (const part of rel.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (cur === '') {
          const target = printable(this.entries.get(link)?.target ?? '');
          throw unsafeLink(link, `is a symlink to "${target}", which leads out of the bundle`);
        }
        cur = parentOf(cur);
        continue;
      }
      const next = cur === '' ? part : `${cur}/${part}`;
      if (!broken && this.entries.get(cur)?.kind !== 'dir') broken = true;
      const entry = broken ? undefined : this.entries.get(next);
      if (!entry) {
        broken = true;
        cur = next;
      } else if (entry.kind === 'symlink') {
        const hop = this.resolveLink(next);
        hops += hop.hops;
        if (!hop.exists) broken = true;
        cur = hop.at;
      } else {
        cur = next;
      }
    }
    return { at: cur, exists: !broken && this.entries.has(cur), hops };
  }
}
