import { describe, expect, it } from 'vitest';
import { BundleTree, type EntryKind, normalizeEntryPath } from './bundle-tree.js';

type Spec = [string, EntryKind, string?];

function tree(entries: Spec[]): BundleTree {
  const t = new BundleTree();
  for (const [p, kind, target] of entries) t.add(normalizeEntryPath(p), { kind, target });
  return t;
}

function refusal(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('normalizeEntryPath', () => {
  it('keeps relative paths, dropping ./ and trailing slashes', () => {
    expect(normalizeEntryPath('./a/b/')).toBe('a/b');
    expect(normalizeEntryPath('a//b/./c')).toBe('a/b/c');
    expect(normalizeEntryPath('./')).toBe('');
  });

  it.each([
    ['/etc/passwd', 'an absolute path'],
    ['a/../../x', '..'],
    ['..', '..'],
    ['a\\b', 'a backslash'],
    ['..\\..\\x', 'a backslash'],
    ['C:/x', 'a drive letter'],
    ['c:x', 'a drive letter'],
    ['a\nb', 'control characters'],
    ['a\u0000b', 'control characters'],
    ['', 'empty'],
    [`${'n'.repeat(256)}`, 'longer than 255'],
    ['x/'.repeat(2100), 'longer than 4096'],
  ])('refuses %j (%s)', (p, why) => {
    expect(() => normalizeEntryPath(p)).toThrow(expect.objectContaining({ code: 'unsafe_path' }));
    expect(() => normalizeEntryPath(p)).toThrow(new RegExp(why.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });
});

describe('BundleTree.add', () => {
  it('makes the parents of an entry dirs', () => {
    const t = tree([['a/b/c.js', 'file']]);
    expect(t.get('a')?.kind).toBe('dir');
    expect(t.get('a/b')?.kind).toBe('dir');
    expect(t.size).toBe(3);
  });

  it('refuses an entry below a symlink or a file (writing it would go through the link)', () => {
    expect(
      refusal(() =>
        tree([
          ['d', 'symlink', 'sub'],
          ['d/x', 'file'],
        ]),
      ),
    ).toBe('unsafe_path');
    expect(
      refusal(() =>
        tree([
          ['f', 'file'],
          ['f/x', 'file'],
        ]),
      ),
    ).toBe('unsafe_path');
  });

  it('refuses the same path twice, except a dir', () => {
    expect(
      refusal(() =>
        tree([
          ['a', 'file'],
          ['a', 'file'],
        ]),
      ),
    ).toBe('duplicate_entry');
    expect(
      refusal(() =>
        tree([
          ['a', 'dir'],
          ['a', 'symlink', '.'],
        ]),
      ),
    ).toBe('duplicate_entry');
    expect(
      refusal(() =>
        tree([
          ['a', 'dir'],
          ['./a/', 'dir'],
        ]),
      ),
    ).toBeUndefined();
  });

  it('accepts a hardlink only to a file listed before it', () => {
    expect(
      refusal(() =>
        tree([
          ['f', 'file'],
          ['h', 'hardlink', 'f'],
        ]),
      ),
    ).toBeUndefined();
    expect(
      refusal(() =>
        tree([
          ['h', 'hardlink', 'f'],
          ['f', 'file'],
        ]),
      ),
    ).toBe('unsafe_link');
    expect(
      refusal(() =>
        tree([
          ['d', 'dir'],
          ['h', 'hardlink', 'd'],
        ]),
      ),
    ).toBe('unsafe_link');
    expect(
      refusal(() =>
        tree([
          ['s', 'symlink', 'f'],
          ['f', 'file'],
          ['h', 'hardlink', 's'],
        ]),
      ),
    ).toBe('unsafe_link');
  });

  it.each([
    ['/etc/shadow', 'absolute'],
    ['C:\\Windows', 'backslash'],
    ['..\\..\\etc', 'backslash'],
    ['D:/x', 'drive letter'],
    ['a\nb', 'control'],
  ])('refuses a symlink target %j', (target) => {
    expect(refusal(() => tree([['l', 'symlink', target]]))).toBe('unsafe_link');
  });
});

describe('BundleTree.checkLinks resolves chains as the kernel does', () => {
  const ok: [string, Spec[]][] = [
    [
      'a link to a sibling file',
      [
        ['lib/a.js', 'file'],
        ['lib/b.js', 'symlink', 'a.js'],
      ],
    ],
    [
      'a link up and back down',
      [
        ['a/x', 'file'],
        ['b/l', 'symlink', '../a/x'],
      ],
    ],
    ['d → . (the root itself)', [['d', 'symlink', '.']]],
    ['a dangling link that stays inside', [['l', 'symlink', 'missing/file']]],
    [
      'a chain of links to a file',
      [
        ['f', 'file'],
        ['l1', 'symlink', 'f'],
        ['l2', 'symlink', 'l1'],
        ['l3', 'symlink', 'l2'],
      ],
    ],
    [
      'a link through a dir link',
      [
        ['real/x', 'file'],
        ['d', 'symlink', 'real'],
        ['l', 'symlink', 'd/x'],
      ],
    ],
    [
      'a/b/.. that stays inside',
      [
        ['a/b/f', 'file'],
        ['l', 'symlink', 'a/b/../b/f'],
      ],
    ],
  ];
  it.each(ok)('accepts %s', (_what, entries) => {
    expect(refusal(() => tree(entries).checkLinks())).toBeUndefined();
  });

  const escapes: [string, Spec[]][] = [
    ['a link climbing out', [['a/l', 'symlink', '../../x']]],
    [
      'u1 → d/.. where d → .',
      [
        ['d', 'symlink', '.'],
        ['u1', 'symlink', 'd/..'],
      ],
    ],
    [
      'u1 → d/.. where d → . (listed in the other order)',
      [
        ['u1', 'symlink', 'd/..'],
        ['d', 'symlink', '.'],
      ],
    ],
    [
      'a chain: d → ., u1 → d/.., u2 → u1/x',
      [
        ['d', 'symlink', '.'],
        ['u1', 'symlink', 'd/..'],
        ['u2', 'symlink', 'u1/etc/passwd'],
      ],
    ],
    [
      'a link through a dir link to its parent',
      [
        ['a/b', 'dir'],
        ['a/up', 'symlink', 'b/../..'],
        ['x', 'symlink', 'a/up/..'],
      ],
    ],
    [
      'a nested dir link whose .. leaves',
      [
        ['a/b/c', 'dir'],
        ['s', 'symlink', 'a/b/c'],
        ['l', 'symlink', 's/../../../..'],
      ],
    ],
    ['a dangling link whose rest climbs out', [['l', 'symlink', 'missing/../../x']]],
    [
      'through a file, then out',
      [
        ['f', 'file'],
        ['l', 'symlink', 'f/../../x'],
      ],
    ],
  ];
  it.each(escapes)('refuses %s', (_what, entries) => {
    expect(refusal(() => tree(entries).checkLinks())).toBe('unsafe_link');
  });

  it('refuses loops and chains longer than the kernel follows', () => {
    expect(
      refusal(() =>
        tree([
          ['a', 'symlink', 'b'],
          ['b', 'symlink', 'a'],
        ]).checkLinks(),
      ),
    ).toBe('unsafe_link');
    expect(refusal(() => tree([['a', 'symlink', 'a/x']]).checkLinks())).toBe('unsafe_link');
    const chain: Spec[] = [['l0', 'file']];
    for (let i = 1; i <= 45; i++) chain.push([`l${i}`, 'symlink', `l${i - 1}`]);
    expect(refusal(() => tree(chain).checkLinks())).toBe('unsafe_link');
  });

  it('resolves 10 000 links through 30 dir links each (each link is resolved once)', () => {
    const entries: Spec[] = [
      ['f', 'file'],
      ['d', 'symlink', '.'],
    ];
    for (let i = 1; i < 10_000; i++) entries.push([`l${i}`, 'symlink', `${'d/'.repeat(30)}f`]);
    expect(refusal(() => tree(entries).checkLinks())).toBeUndefined();
  });
});
