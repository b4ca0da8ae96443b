import { describe, expect, it } from 'vitest';
import { parseSpec } from '../functions/spec.js';
import type { ImageConfig } from '../image/types.js';
import { functionFromImage, functionImageConfig } from './function-image.js';

const base: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/usr/bin:/bin'], Labels: { 'dev.kiln.language': 'python' } },
  rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`] },
  history: [{ created_by: 'debootstrap' }],
};
const layer = `sha256:${'3'.repeat(64)}`;

describe('a function image config', () => {
  const spec = parseSpec({ name: 'hello', runtime: 'python', memoryMb: 256, env: { GREETING: 'hi' } });
  const config = functionImageConfig(base, {
    spec,
    handler: 'handler.handler',
    source: 'handler.py',
    version: 4,
    layer,
    created: '2026-12-07T00:00:00.000Z',
  });

  it('stands alone: env, handler last, labels, one history entry per layer', () => {
    expect(config.config.Env).toEqual([
      'PATH=/usr/bin:/bin',
      'AWS_LAMBDA_FUNCTION_NAME=hello',
      'AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256',
      'LAMBDA_TASK_ROOT=/fn',
      'GREETING=hi',
      'KILN_HANDLER=handler.handler',
      'KILN_FUNCTION=hello',
    ]);
    expect(config.config.Labels).toMatchObject({
      'dev.kiln.language': 'python',
      'dev.kiln.runtime': 'python',
      'dev.kiln.handler': 'handler.handler',
      'org.opencontainers.image.title': 'hello',
      'org.opencontainers.image.version': '4',
    });
    expect(config.rootfs.diff_ids).toEqual([...base.rootfs.diff_ids, layer]);
    expect(config.history).toHaveLength(3);
    expect(config.history?.[0]).toEqual({ created_by: 'debootstrap' });
    expect(config.history?.[2]?.created_by).toMatch(/kiln deploy hello/);
  });

  it("names each variable once: the function's own PATH replaces the base image's in place", () => {
    const own = functionImageConfig(base, {
      spec: parseSpec({ name: 'hello', runtime: 'python', env: { PATH: '/fn/bin:/usr/bin:/bin' } }),
      handler: 'handler.handler',
      source: 'handler.py',
      version: 1,
      layer,
      created: '2026-12-07T00:00:00.000Z',
    });
    expect(own.config.Env?.filter((e) => e.startsWith('PATH='))).toEqual(['PATH=/fn/bin:/usr/bin:/bin']);
    expect(own.config.Env?.[0]).toBe('PATH=/fn/bin:/usr/bin:/bin');
    expect(own.config.Env?.at(-2)).toBe('KILN_HANDLER=handler.handler');
  });

  it('reads back as the same function, request fields winning, env not duplicated', () => {
    const facts = functionFromImage(config, 'r.io/x:1', { name: 'other', memoryMb: '512' });
    expect(facts.handler).toBe('handler.handler');
    expect(facts.spec).toMatchObject({ name: 'other', runtime: 'python', memoryMb: 512, env: {} });
    expect(functionFromImage(config, 'r.io/x:1', {}).spec.name).toBe('hello');
  });

  it('refuses an image without Kiln labels, and a change of runtime', () => {
    expect(() => functionFromImage(base, 'r.io/x:1', {})).toThrow(/not a Kiln function image/);
    expect(() => functionFromImage(config, 'r.io/x:1', { runtime: 'node' })).toThrow(/python function/);
  });
});
