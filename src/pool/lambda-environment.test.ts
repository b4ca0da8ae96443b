import { describe, expect, it } from 'vitest';
import type { FunctionVersion } from '../functions/function-store.js';
import { parseSpec } from '../functions/spec.js';
import { mergeEnv } from '../image/image-env.js';
import { initPayloadOf, lambdaEnvironment, regionFromEnv, runtimeEnvironment } from './lambda-environment.js';

function version(spec: Record<string, unknown>, n = 3): FunctionVersion {
  return {
    version: n,
    image: 'sha256:i',
    layer: 'sha256:l',
    handler: 'app.handler',
    source: 'app.py',
    spec: parseSpec({ name: 'orders', runtime: 'python', handler: 'app.handler', ...spec }),
    createdAt: '2026-01-02T00:00:00.000Z',
  };
}

const NOW = new Date('2026-03-12T19:03:58Z');
const STREAM = '0123456789abcdef0123456789abcdef';

describe('lambdaEnvironment', () => {
  it("is Lambda's defined variables, with Kiln's paths for /var/task and /var/runtime", () => {
    const env = lambdaEnvironment(version({ memoryMb: 256 }), { region: 'us-east-1' }, STREAM, NOW);
    expect(env).toEqual({
      _HANDLER: 'app.handler',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EXECUTION_ENV: 'AWS_Lambda_python3.11',
      AWS_LAMBDA_FUNCTION_NAME: 'orders',
      AWS_LAMBDA_FUNCTION_VERSION: '3',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/orders',
      AWS_LAMBDA_LOG_STREAM_NAME: `2026/03/12/[3]${STREAM}`,
      LAMBDA_TASK_ROOT: '/fn',
      LAMBDA_RUNTIME_DIR: '/opt/kiln/shim',
      LANG: 'C.UTF-8',
      TZ: ':UTC',
      PATH: '/usr/local/bin:/usr/bin:/bin:/opt/bin',
      LD_LIBRARY_PATH: '/lib64:/usr/lib64:/opt/kiln/shim:/opt/kiln/shim/lib:/fn:/fn/lib:/opt/lib',
    });
  });

  it("takes the spec's region over the gateway's", () => {
    const env = lambdaEnvironment(version({ region: 'eu-west-1' }), { region: 'us-west-2' }, STREAM, NOW);
    expect([env.AWS_REGION, env.AWS_DEFAULT_REGION]).toEqual(['eu-west-1', 'eu-west-1']);
    expect(lambdaEnvironment(version({}), { region: 'us-west-2' }, STREAM, NOW).AWS_REGION).toBe('us-west-2');
  });

  it("lets the function's env replace unreserved variables, never reserved ones", () => {
    const fn = version({ env: { TZ: 'Europe/Paris', PATH: '/fn/bin:/usr/bin', GREETING: 'hi' } });
    // A version recorded before env names were reserved may hold one: Lambda's value wins.
    fn.spec.env.AWS_LAMBDA_FUNCTION_NAME = 'spoofed';
    const env = lambdaEnvironment(fn, { region: 'us-east-1' }, STREAM, NOW);
    expect(env).toMatchObject({ TZ: 'Europe/Paris', PATH: '/fn/bin:/usr/bin', GREETING: 'hi' });
    expect(env.AWS_LAMBDA_FUNCTION_NAME).toBe('orders');
  });

  it('names the runtime of each language as AWS_EXECUTION_ENV', () => {
    expect(runtimeEnvironment('node').AWS_EXECUTION_ENV).toBe('AWS_Lambda_nodejs22.x');
    expect(runtimeEnvironment('java').AWS_EXECUTION_ENV).toBe('AWS_Lambda_java17');
  });

  it('holds no variable of the gateway', () => {
    const env = lambdaEnvironment(version({}), { region: 'us-east-1' }, STREAM, NOW);
    expect(Object.keys(env).filter((k) => k.startsWith('KILN_'))).toEqual([]);
    expect(Object.values(env).join('\n')).not.toContain('/var/lib/kiln');
  });

  it('says where the call socket is to a function with calls, and only to one', () => {
    const fn = version({ calls: ['quote'] });
    // A version recorded before the name was reserved may set it in env: Kiln's value wins.
    fn.spec.env.KILN_GATEWAY_SOCKET = '/tmp/elsewhere';
    expect(lambdaEnvironment(fn, { region: 'us-east-1' }, STREAM, NOW).KILN_GATEWAY_SOCKET).toBe(
      '/run/kiln/gateway.sock',
    );
    expect(lambdaEnvironment(version({}), { region: 'us-east-1' }, STREAM, NOW)).not.toHaveProperty(
      'KILN_GATEWAY_SOCKET',
    );
  });
});

describe('initPayloadOf', () => {
  it('carries the payload format, the concurrency, the environment and whether a request waits', () => {
    const payload = initPayloadOf(
      version({ eventFormat: '1.0', concurrency: 4 }),
      { region: 'us-east-1' },
      STREAM,
      true,
    );
    expect(payload).toMatchObject({
      handler: 'app.handler',
      source: 'app.py',
      codeDir: '/fn',
      eventFormat: '1.0',
      concurrency: 4,
      function: { name: 'orders', version: 3, memoryMb: 128 },
      prewarmed: true,
    });
    expect(payload.env.AWS_LAMBDA_FUNCTION_NAME).toBe('orders');
  });

  it('gives a version recorded before eventFormat existed format 2.0', () => {
    const fn = version({});
    delete fn.spec.eventFormat;
    expect(initPayloadOf(fn, { region: 'us-east-1' }, STREAM, false).eventFormat).toBe('2.0');
  });
});

describe('regionFromEnv', () => {
  it('is KILN_REGION, else us-east-1, and refuses what is no region', () => {
    expect(regionFromEnv({})).toBe('us-east-1');
    expect(regionFromEnv({ KILN_REGION: 'ap-southeast-2' })).toBe('ap-southeast-2');
    expect(() => regionFromEnv({ KILN_REGION: 'moon' })).toThrow(/KILN_REGION/);
  });
});

describe('mergeEnv', () => {
  it('keeps each name once, the last value winning, in first-seen order', () => {
    expect(mergeEnv(['PATH=/bin', 'A=1', 'PATH=/usr/bin:/bin', 'B=x=y'])).toEqual([
      'PATH=/usr/bin:/bin',
      'A=1',
      'B=x=y',
    ]);
  });
});
