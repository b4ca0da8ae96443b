import { describe, expect, it } from 'vitest';
import { parseSpec } from './spec.js';
import { patchSpec } from './spec-patch.js';
import {
  checkMountPath,
  formatVolumeMount,
  parseVolumeFlag,
  parseVolumeMounts,
  validateVolumeName,
} from './volume-mounts.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'none';
};

describe('volume names', () => {
  it('take Docker-like names of 1-63 characters, nothing that is a path', () => {
    for (const ok of ['data', 'a', 'Cache_2', 'x.y-z', 'a'.repeat(63)])
      expect(validateVolumeName(ok)).toBe(ok);
    for (const bad of [
      '',
      '.',
      '..',
      '.hidden',
      '-x',
      '_x',
      'a/b',
      'a b',
      'a'.repeat(64),
      'é',
      'a\0',
      7,
      null,
    ])
      expect(
        codeOf(() => validateVolumeName(bad)),
        String(bad),
      ).toBe('invalid_volume_name');
  });
});

describe('mount paths', () => {
  it('are absolute paths of plain components', () => {
    for (const ok of ['/data', '/var/lib/app', '/mnt/cache', '/srv/a.b/c-d', '/run/app', '/opt/app'])
      expect(checkMountPath(ok)).toBe(ok);
    for (const bad of [
      'data',
      '',
      '/',
      '//data',
      '/data/',
      '/a/../etc',
      '/a/./b',
      '/a/..',
      '/x:y',
      '/a,b',
      '/a b',
      42,
    ])
      expect(
        codeOf(() => checkMountPath(bad)),
        String(bad),
      ).toBe('invalid_spec');
  });

  it('stay off what Kiln and the image need: not on, under or above it', () => {
    for (const bad of [
      '/fn',
      '/fn/data',
      '/opt/kiln',
      '/opt/kiln/shim',
      '/opt',
      '/run/secrets',
      '/run/secrets/x',
      '/run',
      '/proc',
      '/proc/self',
      '/sys/fs',
      '/dev/shm',
      '/etc',
      '/usr/local/lib',
      '/lib64',
      '/bin',
      '/tmp',
      '/tmp/x',
    ])
      expect(() => checkMountPath(bad), bad).toThrow(/needs/);
  });
});

describe('parseVolumeMounts', () => {
  it('takes a list of {name, path, readOnly}, sorted by path, readOnly only when true', () => {
    expect(
      parseVolumeMounts([
        { name: 'logs', path: '/var/log/app', readOnly: false },
        { name: 'data', path: '/data', readOnly: true },
      ]),
    ).toEqual([
      { name: 'data', path: '/data', readOnly: true },
      { name: 'logs', path: '/var/log/app' },
    ]);
  });

  it('takes the flag form (NAME:/path[:ro], comma-separated) and JSON from a query', () => {
    expect(parseVolumeMounts('data:/data:ro,cache:/mnt/cache')).toEqual([
      { name: 'data', path: '/data', readOnly: true },
      { name: 'cache', path: '/mnt/cache' },
    ]);
    expect(parseVolumeMounts('[{"name":"d","path":"/d"}]')).toEqual([{ name: 'd', path: '/d' }]);
    expect(parseVolumeMounts(['d:/d:ro', { name: 'e', path: '/e' }])).toEqual([
      { name: 'd', path: '/d', readOnly: true },
      { name: 'e', path: '/e' },
    ]);
    expect(parseVolumeFlag('d:/d:rw')).toEqual({ name: 'd', path: '/d' });
    expect(formatVolumeMount({ name: 'd', path: '/d', readOnly: true })).toBe('d:/d:ro');
    expect(parseVolumeMounts('')).toEqual([]);
  });

  it('refuses what is ambiguous or malformed', () => {
    for (const bad of [
      'data',
      'data:/d:rx',
      'data:/d:ro:x',
      ':/d',
      '[{"name":"d"',
      { name: 'd', path: '/d' },
      [{ name: 'd', path: '/d', readonly: true }],
      [{ name: 'd', path: '/d', readOnly: 'yes' }],
      [{ name: '../x', path: '/d' }],
      [
        { name: 'a', path: '/d' },
        { name: 'a', path: '/e' },
      ],
      [
        { name: 'a', path: '/d' },
        { name: 'b', path: '/d' },
      ],
      [
        { name: 'a', path: '/d' },
        { name: 'b', path: '/d/inner' },
      ],
      Array.from({ length: 17 }, (_, i) => ({ name: `v${i}`, path: `/v${i}` })),
    ])
      expect(
        codeOf(() => parseVolumeMounts(bad)),
        JSON.stringify(bad),
      ).toBe('invalid_spec');
  });

  it('is a spec field: checked with the rest, replaced or reset by a PATCH', () => {
    const spec = parseSpec({ name: 'f', runtime: 'node', volumes: 'data:/data' });
    expect(spec.volumes).toEqual([{ name: 'data', path: '/data' }]);
    expect(parseSpec({ name: 'f', runtime: 'node' })).not.toHaveProperty('volumes');
    expect(codeOf(() => parseSpec({ name: 'f', runtime: 'node', volumes: 'data:/etc' }))).toBe(
      'invalid_spec',
    );
    expect(patchSpec(spec, { volumes: [{ name: 'x', path: '/x', readOnly: true }] }).volumes).toEqual([
      { name: 'x', path: '/x', readOnly: true },
    ]);
    expect(patchSpec(spec, { volumes: null })).not.toHaveProperty('volumes');
  });
});
