// Lambda's environment through real deploys (AWS, "Defined runtime environment variables"):
// every instance has the same variables however it started, cold (the function's own image)
// or as a specialized stem cell, and none of the gateway's.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, startTestGateway, type TestGateway } from '../harness.js';

const GATEWAY_FIXTURES = path.join(import.meta.dirname, 'fixtures/gateway');

const LANGUAGES = [
  { runtime: 'node', fixture: 'env-node', handler: 'index.handler', executionEnv: 'AWS_Lambda_nodejs22.x' },
  { runtime: 'python', fixture: 'env-python', handler: 'env.handler', executionEnv: 'AWS_Lambda_python3.11' },
  { runtime: 'java', fixture: 'env-java', handler: 'envdump.Env', executionEnv: 'AWS_Lambda_java17' },
] as const;

/** What each language's image sets besides Lambda's variables (runtimes/<lang>/recipe.json), and HOME. */
const IMAGE_ENV: Record<string, string[]> = {
  node: ['NODE_ENV'],
  python: ['PYTHONUNBUFFERED', 'PYTHONDONTWRITEBYTECODE'],
  java: ['JAVA_TOOL_OPTIONS'],
};

const LAMBDA_KEYS = [
  '_HANDLER',
  'AWS_DEFAULT_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_REGION',
  'LAMBDA_RUNTIME_DIR',
  'LAMBDA_TASK_ROOT',
  'LANG',
  'LD_LIBRARY_PATH',
  'PATH',
  'TZ',
];

async function envOf(t: TestGateway, name: string): Promise<Record<string, string>> {
  const res = await fetch(`${t.url}/fn/${name}/`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { env: Record<string, string> }).env;
}

async function startedAs(t: TestGateway, name: string): Promise<string[]> {
  return (await t.kiln.pool.list()).filter((i) => i.function === name).map((i) => i.startedAs);
}

describe("Lambda's environment on cold and stem starts", () => {
  let cold: TestGateway;
  let stem: TestGateway;
  beforeAll(async () => {
    process.env.KILN_REGION = 'eu-west-3';
    [cold, stem] = await Promise.all([startTestGateway(), startTestGateway({ stemCells: 1 })]);
    delete process.env.KILN_REGION;
  });
  afterAll(async () => {
    await Promise.all([cold?.close(), stem?.close()]);
  });

  it.each(LANGUAGES)('$runtime: the same variables either way, and none of the gateway', async (lang) => {
    const dir = path.join(GATEWAY_FIXTURES, lang.fixture);
    const query = {
      name: `env-${lang.runtime}`,
      runtime: lang.runtime,
      handler: lang.handler,
      memoryMb: '192',
      env: JSON.stringify({ GREETING: 'hi', TZ: ':UTC' }),
    };
    const deployed = await deployDir(cold.url, dir, query);
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    expect(await startedAs(cold, query.name)).toEqual(['cold']);
    const coldEnv = await envOf(cold, query.name);

    // A first deploy asks for the language's stem cells; the next one's instance is a cell.
    await deployDir(stem.url, dir, { ...query, name: `warm-${lang.runtime}` });
    await stem.kiln.pool.stemCells.whenFull(60_000);
    expect((await deployDir(stem.url, dir, query)).status).toBe(201);
    expect(await startedAs(stem, query.name)).toEqual(['stem']);
    const stemEnv = await envOf(stem, query.name);

    expect(Object.keys(stemEnv).sort()).toEqual(Object.keys(coldEnv).sort());
    expect(Object.keys(coldEnv).sort()).toEqual(
      [...LAMBDA_KEYS, 'GREETING', 'HOME', ...IMAGE_ENV[lang.runtime]!].sort(),
    );
    const { AWS_LAMBDA_LOG_STREAM_NAME: coldStream, ...coldRest } = coldEnv;
    const { AWS_LAMBDA_LOG_STREAM_NAME: stemStream, ...stemRest } = stemEnv;
    expect(stemRest).toEqual(coldRest);
    for (const stream of [coldStream, stemStream])
      expect(stream).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[1\][0-9a-f]{32}$/);
    expect(coldStream).not.toBe(stemStream);

    expect(coldEnv).toMatchObject({
      _HANDLER: lang.handler,
      AWS_REGION: 'eu-west-3',
      AWS_DEFAULT_REGION: 'eu-west-3',
      AWS_EXECUTION_ENV: lang.executionEnv,
      AWS_LAMBDA_FUNCTION_NAME: query.name,
      AWS_LAMBDA_FUNCTION_VERSION: '1',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '192',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${query.name}`,
      LAMBDA_TASK_ROOT: '/fn',
      LAMBDA_RUNTIME_DIR: '/opt/kiln/shim',
      TZ: ':UTC',
      GREETING: 'hi',
      HOME: '/tmp',
    });
    for (const value of Object.values(coldEnv)) {
      expect(value).not.toContain(cold.dataDir);
      expect(value).not.toContain(stem.dataDir);
    }
  });

  it("takes the spec's region over the gateway's", async () => {
    const name = 'env-region';
    const res = await deployDir(cold.url, path.join(GATEWAY_FIXTURES, 'env-node'), {
      name,
      runtime: 'node',
      region: 'ap-south-1',
    });
    expect(res.status).toBe(201);
    expect(await envOf(cold, name)).toMatchObject({
      AWS_REGION: 'ap-south-1',
      AWS_DEFAULT_REGION: 'ap-south-1',
    });
  });

  it('refuses an env that sets a reserved variable', async () => {
    const res = await deployDir(cold.url, path.join(GATEWAY_FIXTURES, 'env-node'), {
      name: 'env-reserved',
      runtime: 'node',
      env: JSON.stringify({ AWS_LAMBDA_FUNCTION_NAME: 'other' }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('invalid_spec');
    expect(res.body.error?.message).toContain('reserved');
  });
});
