// API Gateway's two payload formats through a real gateway and deploy, field by field against
// AWS's documented examples ("Create AWS Lambda proxy integrations for HTTP APIs in API
// Gateway": payload format 1.0 and 2.0), with the spec's eventFormat choosing the format. Each
// language's handler answers the event it got as JSON; all three shims must build the same event
// (python's bundle holds only src/, java's handler reads the event's bytes as its shim wrote them).
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, startTestGateway, type TestGateway } from '../harness.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures/gateway');
const LANGUAGES = [
  { runtime: 'node', fixture: 'events-node', handler: 'index.handler' },
  { runtime: 'python', fixture: 'src-only-python', handler: 'src/app.handler' },
  { runtime: 'java', fixture: 'events-java', handler: 'echo.Echo' },
] as const;
const AWS_TIME = /^\d{2}\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** AWS's example request: POST /my/path, a repeated query key, a repeated header, two cookies, a text body. */
async function exampleRequest(t: TestGateway, name: string): Promise<Record<string, unknown>> {
  const res = await request(
    `${t.url}/fn/${name}/my/path?parameter1=value1&parameter1=value2&parameter2=value`,
    {
      method: 'POST',
      headers: [
        'header1',
        'value1',
        'header2',
        'value1',
        'header2',
        'value2',
        'user-agent',
        'agent',
        'cookie',
        'cookie1; cookie2',
        'content-type',
        'text/plain',
      ],
      body: 'Hello from Lambda',
    },
  );
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as Record<string, unknown>;
}

describe.each(LANGUAGES)('$runtime: API Gateway payload formats through a deploy', (lang) => {
  let t: TestGateway;
  const v2 = `events-v2-${lang.runtime}`;
  const v1 = `events-v1-${lang.runtime}`;
  beforeAll(async () => {
    t = await startTestGateway();
    for (const [name, eventFormat] of [
      [v2, '2.0'],
      [v1, '1.0'],
    ] as const) {
      const res = await deployDir(t.url, path.join(FIXTURES, lang.fixture), {
        name,
        runtime: lang.runtime,
        handler: lang.handler,
        eventFormat,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  });
  afterAll(() => t?.close());

  it('eventFormat 2.0 (the default): the HTTP API event, field by field', async () => {
    const event = await exampleRequest(t, v2);
    // AWS's example has these keys; pathParameters and stageVariables only with routes and
    // stages, which Kiln does not have (README: differences from AWS).
    expect(Object.keys(event).sort()).toEqual(
      [
        'version',
        'routeKey',
        'rawPath',
        'rawQueryString',
        'cookies',
        'headers',
        'queryStringParameters',
        'requestContext',
        'body',
        'isBase64Encoded',
      ].sort(),
    );
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/my/path',
      rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
      cookies: ['cookie1', 'cookie2'],
      queryStringParameters: { parameter1: 'value1,value2', parameter2: 'value' },
      body: 'Hello from Lambda',
      isBase64Encoded: false,
    });
    const headers = event.headers as Record<string, string>;
    expect(headers).toMatchObject({ header1: 'value1', header2: 'value1,value2', 'user-agent': 'agent' });
    expect(headers.cookie).toBeUndefined();
    const context = event.requestContext as Record<string, unknown>;
    expect(Object.keys(context).sort()).toEqual(
      [
        'accountId',
        'apiId',
        'domainName',
        'domainPrefix',
        'http',
        'requestId',
        'routeKey',
        'stage',
        'time',
        'timeEpoch',
      ].sort(),
    );
    expect(context).toMatchObject({
      accountId: expect.stringMatching(/^\d{12}$/),
      domainName: '127.0.0.1',
      domainPrefix: '127',
      http: {
        method: 'POST',
        path: '/my/path',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'agent',
      },
      routeKey: '$default',
      stage: '$default',
    });
    expect(context.requestId).toMatch(UUID);
    expect(context.time).toMatch(AWS_TIME);
    expect(typeof context.timeEpoch).toBe('number');
    expect(Math.abs((context.timeEpoch as number) - Date.now())).toBeLessThan(60_000);
  });

  it('eventFormat 1.0: the REST-style event, field by field', async () => {
    const event = await exampleRequest(t, v1);
    expect(Object.keys(event).sort()).toEqual(
      [
        'version',
        'resource',
        'path',
        'httpMethod',
        'headers',
        'multiValueHeaders',
        'queryStringParameters',
        'multiValueQueryStringParameters',
        'requestContext',
        'pathParameters',
        'stageVariables',
        'body',
        'isBase64Encoded',
      ].sort(),
    );
    // Every path reaches the function's one handler as on a REST API whose `/{proxy+}` resource
    // integrates with it (Kiln's rule, README: Lambda compatibility).
    expect(event).toMatchObject({
      version: '1.0',
      resource: '/{proxy+}',
      pathParameters: { proxy: 'my/path' },
      path: '/my/path',
      httpMethod: 'POST',
      multiValueQueryStringParameters: { parameter1: ['value1', 'value2'], parameter2: ['value'] },
      stageVariables: null,
      body: 'Hello from Lambda',
      isBase64Encoded: false,
    });
    // AWS's example is not consistent here; Kiln takes the last value, REST APIs' documented rule.
    expect(event.queryStringParameters).toEqual({ parameter1: 'value2', parameter2: 'value' });
    expect(event.headers).toMatchObject({ header1: 'value1', header2: 'value2', cookie: 'cookie1; cookie2' });
    expect(event.multiValueHeaders).toMatchObject({ header1: ['value1'], header2: ['value1', 'value2'] });
    const context = event.requestContext as Record<string, unknown>;
    expect(Object.keys(context).sort()).toEqual(
      [
        'accountId',
        'apiId',
        'authorizer',
        'domainName',
        'domainPrefix',
        'extendedRequestId',
        'httpMethod',
        'identity',
        'path',
        'protocol',
        'requestId',
        'requestTime',
        'requestTimeEpoch',
        'resourceId',
        'resourcePath',
        'stage',
      ].sort(),
    );
    expect(context).toMatchObject({
      accountId: expect.stringMatching(/^\d{12}$/),
      domainName: '127.0.0.1',
      domainPrefix: '127',
      resourceId: null,
      resourcePath: '/{proxy+}',
      authorizer: { claims: null, scopes: null },
      httpMethod: 'POST',
      path: '/my/path',
      protocol: 'HTTP/1.1',
      stage: '$default',
    });
    expect(context.requestId).toMatch(UUID);
    expect(context.extendedRequestId).toBe(context.requestId);
    expect(context.requestTime).toMatch(AWS_TIME);
    expect(typeof context.requestTimeEpoch).toBe('number');
    const identity = context.identity as Record<string, unknown>;
    expect(Object.keys(identity).sort()).toEqual(
      [
        'accessKey',
        'accountId',
        'caller',
        'cognitoAuthenticationProvider',
        'cognitoAuthenticationType',
        'cognitoIdentityId',
        'cognitoIdentityPoolId',
        'principalOrgId',
        'sourceIp',
        'user',
        'userAgent',
        'userArn',
      ].sort(),
    );
    expect(identity).toMatchObject({ sourceIp: '127.0.0.1', userAgent: 'agent', user: null });
  });

  it('a redeploy without eventFormat is a whole new spec: its version gets format 2.0', async () => {
    const res = await deployDir(t.url, path.join(FIXTURES, lang.fixture), {
      name: v1,
      runtime: lang.runtime,
      handler: lang.handler,
    });
    expect(res.status).toBe(201);
    const event = await exampleRequest(t, v1);
    expect(event.version).toBe('2.0');
  });
});
