import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness.js';
import { buildJava, type JavaBuild, JavaShim, parseResponses, readUntil } from './java-harness.js';

/**
 * The Java shim against AWS's documented behaviour, as a real `java` process on a unix socket
 * (or fd 0): the aws-lambda-java-core API, every handler shape, both API Gateway payload
 * formats field by field ("Create AWS Lambda proxy integrations for HTTP APIs"), raw invokes
 * with Lambda's error JSON, and the HTTP behaviour SHIM-PROTOCOL.md §6 asks of every shim.
 */

const execFileP = promisify(execFile);
const FIXTURES = path.join(ROOT, 'test/lambda/fixtures/java');
let build: JavaBuild;
const running: JavaShim[] = [];

beforeAll(async () => {
  build = await buildJava(FIXTURES);
}, 180_000);

afterAll(async () => {
  if (build) await rm(build.dir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function start(options: Parameters<typeof JavaShim.start>[1] = {}): Promise<JavaShim> {
  const shim = await JavaShim.start(build, options);
  running.push(shim);
  return shim;
}

async function serving(
  handler: string,
  extra: Parameters<JavaShim['init']>[2] = {},
  options: Parameters<typeof JavaShim.start>[1] = {},
): Promise<JavaShim> {
  const shim = await start(options);
  const res = await shim.init(build, handler, extra);
  expect(res.status, res.body.toString()).toBe(200);
  expect(JSON.parse(res.body.toString())).toEqual({ ok: true });
  return shim;
}

const json = (body: Buffer): unknown => JSON.parse(body.toString('utf8'));

/** `12/Mar/2020:19:03:58 +0000` for an epoch in ms, from the AWS docs' examples. */
function awsTime(ms: number): string {
  const d = new Date(ms);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(
    d.getUTCMinutes(),
  )}:${two(d.getUTCSeconds())} +0000`;
}

/** The request of the AWS docs' payload examples, as a client sends it through Kiln's gateway. */
const DOC_REQUEST = {
  target: '/my/path?parameter1=value1&parameter1=value2&parameter2=value',
  headers: {
    header1: 'value1',
    header2: ['value1', 'value2'],
    cookie: 'cookie1; cookie2',
    'user-agent': 'agent',
    'content-type': 'text/plain',
    'x-forwarded-for': '203.0.113.9, 192.0.2.1',
    'x-kiln-request-id': 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    'x-kiln-deadline': String(Date.now() + 60_000),
    'x-kiln-other': 'never shown',
  } as Record<string, string | string[]>,
  body: 'Hello from Lambda',
};

describe('payload format 2.0: the event', () => {
  it('has every documented field, built from the request', async () => {
    const shim = await serving('conformance.events.EventEcho');
    const before = Date.now();
    const res = await shim.request('POST', DOC_REQUEST.target, {
      headers: DOC_REQUEST.headers as Record<string, string>,
      body: DOC_REQUEST.body,
    });
    expect(res.status).toBe(200);
    const event = json(res.body) as Record<string, unknown> & { requestContext: Record<string, unknown> };
    expect(Object.keys(event)).toEqual([
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
    ]);
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
    // Repeated headers joined with commas; the cookie header moved to `cookies`; Kiln's own never shown.
    expect(event.headers).toEqual({
      host: 'fn.example.com',
      header1: 'value1',
      header2: 'value1,value2',
      'user-agent': 'agent',
      'content-type': 'text/plain',
      'x-forwarded-for': '203.0.113.9, 192.0.2.1',
      'content-length': '17',
      connection: 'keep-alive',
    });
    const ctx = event.requestContext;
    expect(Object.keys(ctx)).toEqual([
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
    ]);
    expect(ctx).toMatchObject({
      domainName: 'fn.example.com',
      domainPrefix: 'fn',
      // The last x-forwarded-for entry is the one Kiln's gateway appended: the real peer.
      http: {
        method: 'POST',
        path: '/my/path',
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.1',
        userAgent: 'agent',
      },
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      routeKey: '$default',
      stage: '$default',
    });
    expect(ctx.accountId).toMatch(/^\d{12}$/);
    expect(typeof ctx.apiId).toBe('string');
    const epoch = ctx.timeEpoch as number;
    expect(Number.isInteger(epoch)).toBe(true);
    expect(epoch).toBeGreaterThanOrEqual(before - 1000);
    expect(epoch).toBeLessThanOrEqual(Date.now() + 1000);
    expect(ctx.time).toBe(awsTime(epoch));
    expect(ctx.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  });

  it('leaves out cookies, query parameters and body when the request has none', async () => {
    const shim = await serving('conformance.events.EventEcho');
    const res = await shim.request('GET', '/', { headers: { host: 'fn.example.com:8080' } });
    const event = json(res.body) as Record<string, unknown>;
    expect(event).toMatchObject({ rawPath: '/', rawQueryString: '', isBase64Encoded: false });
    // API Gateway's domainName has no port.
    expect(event.requestContext).toMatchObject({ domainName: 'fn.example.com', domainPrefix: 'fn' });
    expect(event).not.toHaveProperty('cookies');
    expect(event).not.toHaveProperty('queryStringParameters');
    expect(event).not.toHaveProperty('body');
  });

  it('base64-encodes a binary body and decodes query escapes', async () => {
    const shim = await serving('conformance.events.EventEcho');
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const res = await shim.request('PUT', '/up?a=%20b&c&d=%E2%9C%93&bad=%E0%A4%A', {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    const event = json(res.body) as Record<string, unknown>;
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body as string, 'base64')).toEqual(bytes);
    expect(event.queryStringParameters).toEqual({ a: ' b', c: '', d: '✓', bad: '%E0%A4%A' });
  });

  it('reaches a RequestHandler<Map, Map> as Lambda deserializes it (LinkedHashMap, Long, Boolean)', async () => {
    const shim = await serving('conformance.events.MapTypes');
    const res = await shim.request('GET', '/types');
    expect(res.status).toBe(202);
    expect(res.headers['x-types']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2']);
    expect(json(res.body)).toEqual({
      event: 'java.util.LinkedHashMap',
      headers: 'java.util.LinkedHashMap',
      isBase64Encoded: 'java.lang.Boolean',
      timeEpoch: 'java.lang.Long',
    });
  });
});

describe('payload format 1.0: the event', () => {
  it('has every documented field, built from the request', async () => {
    const shim = await serving('conformance.events.EventEcho', { eventFormat: '1.0' });
    const before = Date.now();
    const res = await shim.request('POST', DOC_REQUEST.target, {
      headers: DOC_REQUEST.headers as Record<string, string>,
      body: DOC_REQUEST.body,
    });
    expect(res.status).toBe(200);
    const event = json(res.body) as Record<string, unknown> & { requestContext: Record<string, unknown> };
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
    expect(event).toMatchObject({
      version: '1.0',
      resource: '/{proxy+}',
      path: '/my/path',
      httpMethod: 'POST',
      // One value per name: the last one; every value in the multiValue maps.
      queryStringParameters: { parameter1: 'value2', parameter2: 'value' },
      multiValueQueryStringParameters: { parameter1: ['value1', 'value2'], parameter2: ['value'] },
      pathParameters: { proxy: 'my/path' },
      stageVariables: null,
      body: 'Hello from Lambda',
      isBase64Encoded: false,
    });
    expect(event.headers).toMatchObject({ header1: 'value1', header2: 'value2', cookie: 'cookie1; cookie2' });
    expect(event.multiValueHeaders).toMatchObject({
      header1: ['value1'],
      header2: ['value1', 'value2'],
      cookie: ['cookie1; cookie2'],
    });
    for (const map of [event.headers, event.multiValueHeaders] as Record<string, unknown>[]) {
      expect(Object.keys(map).filter((k) => k.startsWith('x-kiln-'))).toEqual([]);
    }
    const ctx = event.requestContext;
    expect(ctx).toMatchObject({
      domainName: 'fn.example.com',
      domainPrefix: 'fn',
      extendedRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      httpMethod: 'POST',
      path: '/my/path',
      protocol: 'HTTP/1.1',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      resourceId: null,
      resourcePath: '/{proxy+}',
      authorizer: { claims: null, scopes: null },
      stage: '$default',
    });
    expect(ctx.identity).toEqual({
      accessKey: null,
      accountId: null,
      caller: null,
      cognitoAuthenticationProvider: null,
      cognitoAuthenticationType: null,
      cognitoIdentityId: null,
      cognitoIdentityPoolId: null,
      principalOrgId: null,
      sourceIp: '192.0.2.1',
      user: null,
      userAgent: 'agent',
      userArn: null,
    });
    const epoch = ctx.requestTimeEpoch as number;
    expect(epoch).toBeGreaterThanOrEqual(before - 1000);
    expect(ctx.requestTime).toBe(awsTime(epoch));
  });

  it('has null query maps and body when the request has none', async () => {
    const shim = await serving('conformance.events.EventEcho', { eventFormat: '1.0' });
    const event = json((await shim.request('GET', '/')).body) as Record<string, unknown>;
    expect(event).toMatchObject({
      resource: '/',
      path: '/',
      pathParameters: null,
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      body: null,
      isBase64Encoded: false,
    });
    expect((event.requestContext as Record<string, unknown>).resourcePath).toBe('/');
    const nested = json((await shim.request('DELETE', '/a%20b/c+d')).body) as Record<string, unknown>;
    expect(nested).toMatchObject({ path: '/a%20b/c+d', pathParameters: { proxy: 'a b/c+d' } });
  });
});

describe('API Gateway result rules', () => {
  it('2.0: a result without statusCode is a 200 application/json whose body is the result', async () => {
    const shim = await serving('com.example.other.Greeter::greet');
    const text = await shim.request('GET', '/?x=1');
    expect(text.status).toBe(200);
    expect(text.headers['content-type']).toBe('application/json');
    expect(text.body.toString()).toBe('hi from com.example.other.Greeter to null');
    const object = await (await serving('conformance.context.ContextInfo')).request('GET', '/');
    expect(object.headers['content-type']).toBe('application/json');
    expect(json(object.body)).toMatchObject({ functionName: 'conformance' });
  });

  it('2.0: a byte[] or InputStream result is the output bytes, read as JSON', async () => {
    const shim = await serving('conformance.bytes.Bytes::stream');
    const res = await shim.request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('from a stream');
  });

  it('1.0: headers and multiValueHeaders are merged, a base64 body decoded', async () => {
    const shim = await serving('conformance.results.V1Response', { eventFormat: '1.0' });
    const res = await shim.request('GET', '/');
    expect(res.status).toBe(201);
    expect(res.body.toString()).toBe('hi');
    expect(res.headers['x-one']).toBe('a');
    expect(res.headers['x-dup']).toBe('same, other');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('1.0: a result without statusCode is API Gateway 500, the reason in the logs', async () => {
    const shim = await serving('com.example.other.Greeter::greet', { eventFormat: '1.0' });
    const res = await shim.request('GET', '/');
    expect(res.status).toBe(500);
    expect(res.body.toString()).toBe('{"message":"Internal Server Error"}');
    expect(res.headers['x-kiln-error']).toBe('invalid_handler_result');
    await shim.waitForLine('stderr', /payload format 1\.0 needs an object with statusCode/);
  });
});

describe('handler shapes and Lambda serialization (raw invoke)', () => {
  it('RequestHandler<POJO, POJO>: setters and public fields in, getters (isX too) and public fields out, nulls left out', async () => {
    const shim = await serving('conformance.pojo.OrderHandler');
    const order = {
      id: 'o1',
      gift: true,
      lines: [{ name: 'tea', price: 2.5, qty: 2, color: 'unknown fields are ignored' }],
      size: 'LARGE',
      counts: { a: '3' },
      customer: 12345678901,
      unknown: [1],
    };
    const res = await shim.invoke(JSON.stringify(order));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-kiln-function-error']).toBeUndefined();
    expect(json(res.body)).toEqual({
      orderId: 'o1',
      total: 5,
      currency: 'EUR',
      gift: true,
      URL: 'https://example.com/o1',
      lines: [{ name: 'tea', price: 2.5, qty: 2 }],
      meta: { size: 'LARGE', counts: { a: 3 }, customer: 12345678901, nothing: null },
    });
    // Doubles written as Jackson writes them.
    expect(res.body.toString()).toContain('"total":5.0');
  });

  it('records in and out, a single value accepted where a list is declared, "2" read as an int', async () => {
    const shim = await serving('conformance.records.PointHandler');
    const res = await shim.invoke('{"name":"p","x":1,"y":"2","tags":"solo"}');
    expect(json(res.body)).toEqual({
      from: { name: 'p', x: 1, y: 2, tags: ['solo'] },
      to: { name: 'p', x: 2, y: 3, tags: ['moved'] },
    });
  });

  it('RequestHandler<String, String>: a JSON string in and out; an object cannot become a String', async () => {
    const shim = await serving('conformance.strings.Upper');
    const ok = await shim.invoke('"hello"');
    expect(ok.body.toString()).toBe('"HELLO"');
    const bad = await shim.invoke('{"not":"a string"}');
    expect(bad.status).toBe(200);
    expect(bad.headers['x-kiln-function-error']).toBe('Unhandled');
    expect(json(bad.body)).toMatchObject({
      errorMessage: 'An error occurred during JSON parsing',
      errorType: 'java.lang.RuntimeException',
    });
  });

  it('primitives, boxed types, Object and List<Long> in, as Lambda reads them; "12" read as an int', async () => {
    const answer = async (handler: string, event: string) =>
      (await (await serving(`conformance.misc.Scalars::${handler}`)).invoke(event)).body.toString();
    expect(await answer('square', '12')).toBe('144');
    expect(await answer('square', '"12"')).toBe('144');
    expect(await answer('not', 'true')).toBe('false');
    expect(await answer('half', '5')).toBe('2.5');
    expect(await answer('sum', '[1, 2, 3000000000]')).toBe('3000000003');
    expect(await answer('kind', '{"a":1}')).toBe('"LinkedHashMap"');
    expect(await answer('kind', '[1]')).toBe('"ArrayList"');
    expect(await answer('kind', '"s"')).toBe('"String"');
  });

  it('immutable maps and lists out', async () => {
    const shim = await serving('conformance.immutable.Immutable');
    const res = await shim.invoke('{}');
    expect(json(res.body)).toEqual({ statusCode: 200, body: { list: [1, 2, 3], nested: { ok: true } } });
  });

  it('RequestStreamHandler: the event bytes in, the output bytes out as they are', async () => {
    const shim = await serving('conformance.streams.Reverse');
    const res = await shim.invoke('[1,"ab"]');
    expect(res.body.toString()).toBe(']"ba",1[');
  });

  it('byte[] results are raw bytes; a void method answers null', async () => {
    const bytes = await serving('conformance.bytes.Bytes::array');
    expect([...(await bytes.invoke('{}')).body]).toEqual([0, 1, 2, 255]);
    const nothing = await serving('com.example.other.Greeter::nothing');
    expect((await nothing.invoke('{}')).body.toString()).toBe('null');
  });

  it('package.Class::method with a package unlike its directory; the (event, Context) overload wins', async () => {
    const shim = await serving('com.example.other.Greeter::greet');
    expect((await shim.invoke('{"name":"Duke"}')).body.toString()).toBe(
      '"hi from com.example.other.Greeter to Duke"',
    );
    const count = await serving('com.example.other.Greeter::count');
    expect((await count.invoke('[1,2,3]')).body.toString()).toBe('3');
  });

  it("Kiln's first API keeps working: dev.kiln.Context, a bare handleRequest, Function<Map, Object>", async () => {
    const legacy = await serving('conformance.legacy.Legacy');
    expect((await legacy.request('GET', '/x')).body.toString()).toBe('legacy conformance /x');
    const fn = await serving('conformance.legacy.Legacy$Fn');
    expect((await fn.request('GET', '/y')).body.toString()).toBe('fn /y');
  });

  it('Context: values with the types AWS gives, from the invoke and the function', async () => {
    const shim = await serving('conformance.context.ContextInfo', {
      env: { CONFORMANCE_VAR: 'from init', AWS_REGION: 'eu-west-1' },
    });
    const res = await shim.invoke('{}', {
      'x-kiln-request-id': 'req-ctx',
      'x-kiln-deadline': String(Date.now() + 5000),
      'x-amzn-trace-id': 'Root=1-5e1b4151-5ac6c58f5b5dbd6a5c9e9a1c',
    });
    const ctx = json(res.body) as Record<string, unknown>;
    expect(ctx).toMatchObject({
      awsRequestId: 'req-ctx',
      functionName: 'conformance',
      functionVersion: '7',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:conformance',
      memoryLimitInMB: 256,
      logGroupName: '/aws/lambda/conformance',
      xrayTraceId: 'Root=1-5e1b4151-5ac6c58f5b5dbd6a5c9e9a1c',
      env: 'from init',
      eventType: 'java.util.LinkedHashMap',
    });
    expect(ctx.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[7\]\S+$/);
    expect(ctx.remainingTimeInMillis).toBeGreaterThan(0);
    expect(ctx.remainingTimeInMillis).toBeLessThanOrEqual(5000);
    // Null properties of a Map are kept (only a bean's are left out).
    expect(ctx).toMatchObject({ identity: null, clientContext: null });
  });

  it("Context.getClientContext(): the Invoke API's X-Amz-Client-Context; a malformed one is a 400", async () => {
    const shim = await serving('conformance.context.ContextInfo');
    const clientContext = {
      client: { installation_id: 'install-1', app_title: 'App', app_package_name: 'com.example' },
      custom: { k: 'v' },
      env: { platform: 'test' },
    };
    const res = await shim.invoke('{}', {
      'x-amz-client-context': Buffer.from(JSON.stringify(clientContext)).toString('base64'),
    });
    expect((json(res.body) as Record<string, unknown>).clientContext).toEqual({
      client: { installationId: 'install-1', appTitle: 'App', appPackageName: 'com.example' },
      custom: { k: 'v' },
      environment: { platform: 'test' },
    });
    const bad = await shim.invoke('{}', { 'x-amz-client-context': Buffer.from('[1]').toString('base64') });
    expect(bad.status).toBe(400);
    expect(bad.headers['x-kiln-error']).toBe('invalid_request_content');
  });

  it('LambdaLogger: each log call is one stdout line as written; levels below AWS_LAMBDA_LOG_LEVEL dropped', async () => {
    const shim = await serving('conformance.logging.Logs', { env: { AWS_LAMBDA_LOG_LEVEL: 'INFO' } });
    const res = await shim.invoke('{}', { 'x-kiln-request-id': 'req-log' });
    expect(res.body.toString()).toBe('"logged"');
    await shim.waitForLine('stdout', /^from System\.out$/);
    expect(shim.stdout).toEqual(
      expect.arrayContaining([
        'plain message req-log',
        'two',
        'lines',
        'bytes message',
        '[WARN] warned',
        'from LambdaRuntime',
        'from System.out',
      ]),
    );
    expect(shim.stdout.join('\n')).not.toContain('debugged');
  });
});

describe("aws-lambda-java-events' API Gateway classes", () => {
  it('APIGatewayV2HTTPEvent in, APIGatewayV2HTTPResponse (from its builder) out', async () => {
    const shim = await serving('conformance.apigw.HttpApiHandler');
    const res = await shim.request('GET', '/items?a=1&a=2', {
      headers: { cookie: 'c=1', 'user-agent': 'ua' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['set-cookie']).toEqual(['seen=1']);
    expect(res.body.toString()).toBe(
      'GET /items q={a=1,2} cookies=[c=1] ua=ua epoch=true b64=false body=null',
    );
  });

  it('APIGatewayProxyRequestEvent in, APIGatewayProxyResponseEvent out (payload 1.0)', async () => {
    const shim = await serving('conformance.apigw.RestApiHandler', { eventFormat: '1.0' });
    const res = await shim.request('POST', '/orders?a=1&a=2', {
      headers: { 'x-forwarded-for': '198.51.100.7' },
      body: 'x',
    });
    expect(res.status).toBe(202);
    expect(res.headers['x-multi']).toBe('a, b');
    expect(res.body.toString()).toBe('POST /orders q={a=[1, 2]} ip=198.51.100.7 epoch=true body=x');
  });

  it("a copy of the events classes the function ships wins over the shim's", async () => {
    const dir = path.join(build.dir, 'own-events');
    const src = path.join(dir, 'src');
    await mkdir(path.join(src, 'events'), { recursive: true });
    await writeFile(
      path.join(src, 'events/APIGatewayV2HTTPResponse.java'),
      'package com.amazonaws.services.lambda.runtime.events;\n' +
        'public class APIGatewayV2HTTPResponse { public static String origin() { return "the function\'s copy"; } }\n',
    );
    await writeFile(
      path.join(src, 'Origin.java'),
      'public class Origin { public String handle(java.util.Map<String, Object> e) {' +
        ' return com.amazonaws.services.lambda.runtime.events.APIGatewayV2HTTPResponse.origin(); } }\n',
    );
    const eventsClasses = path.join(dir, 'events-classes');
    await execFileP('javac', ['-d', eventsClasses, path.join(src, 'events/APIGatewayV2HTTPResponse.java')]);
    await mkdir(path.join(dir, 'fn/lib'), { recursive: true });
    const jar = path.join(dir, 'fn/lib/aws-lambda-java-events.jar');
    await execFileP('jar', ['cf', jar, '-C', eventsClasses, '.']);
    await execFileP('javac', [
      '-cp',
      `${jar}:${build.jar}`,
      '-d',
      path.join(dir, 'fn/classes'),
      path.join(src, 'Origin.java'),
    ]);
    const shim = await start();
    const res = await shim.init({ ...build, codeDir: path.join(dir, 'fn') }, 'Origin::handle');
    expect(res.status, res.body.toString()).toBe(200);
    expect((await shim.invoke('{}')).body.toString()).toBe('"the function\'s copy"');
  });
});

describe('a handler that throws', () => {
  it("raw: 200, X-Amz-Function-Error's Unhandled, and Lambda's error JSON without the shim's frames", async () => {
    const shim = await serving('conformance.errors.Fails::handle');
    const res = await shim.invoke('{}');
    expect(res.status).toBe(200);
    expect(res.headers['x-kiln-function-error']).toBe('Unhandled');
    const error = json(res.body) as { errorMessage: string; errorType: string; stackTrace: string[] };
    expect(Object.keys(error)).toEqual(['errorMessage', 'errorType', 'stackTrace']);
    expect(error.errorMessage).toBe('order 42 rejected');
    expect(error.errorType).toBe('conformance.errors.Fails$OrderRejected');
    expect(error.stackTrace[0]).toMatch(/^conformance\.errors\.Fails\.handle\(Fails\.java:\d+\)$/);
    expect(error.stackTrace.join('\n')).not.toContain('dev.kiln.shim');
    const noMessage = await serving('conformance.errors.Fails::noMessage');
    expect(json((await noMessage.invoke('{}')).body)).toMatchObject({
      errorMessage: 'java.lang.IllegalStateException',
      errorType: 'java.lang.IllegalStateException',
    });
  });

  it("HTTP: API Gateway's 500, the error and stack in the logs as Lambda writes them; the instance keeps serving", async () => {
    const shim = await serving('conformance.errors.Fails::handle');
    for (let i = 0; i < 2; i++) {
      const res = await shim.request('GET', '/');
      expect(res.status).toBe(500);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers['x-kiln-error']).toBe('handler_error');
      expect(res.body.toString()).toBe('{"message":"Internal Server Error"}');
    }
    await shim.waitForLine('stderr', /^Caused by: java\.lang\.NumberFormatException/);
    const log = shim.stderr.join('\n');
    expect(log).toContain(
      'order 42 rejected: conformance.errors.Fails$OrderRejected\nconformance.errors.Fails$OrderRejected: order 42 rejected\n\tat conformance.errors.Fails.handle(Fails.java:',
    );
    expect(log).toContain('Caused by: java.lang.NumberFormatException: For input string: "not a number"');
    expect(log).not.toContain('dev.kiln.shim');
  });
});

describe('init and health', () => {
  it('answers 503 before init and a health probe at any time without calling the handler', async () => {
    const shim = await start();
    const early = await shim.request('GET', '/');
    expect(early.status).toBe(503);
    expect(early.headers['x-kiln-error']).toBe('not_initialized');
    expect((await shim.request('GET', '/', { headers: { 'x-kiln-health': '1' } })).status).toBe(200);
    expect((await shim.init(build, 'conformance.errors.Fails::handle')).status).toBe(200);
    const health = await shim.request('GET', '/anything', { headers: { 'x-kiln-health': '1' } });
    expect(health.status).toBe(200);
    expect(json(health.body)).toEqual({ ok: true });
    expect(shim.stderr.join('\n')).not.toContain('rejected');
  });

  it.each([
    [
      'a class that is not there',
      'conformance.Missing',
      'handler_not_found',
      'class conformance.Missing not found',
    ],
    [
      'a method that is not there',
      'com.example.other.Greeter::nope',
      'handler_not_found',
      'has no public method nope',
    ],
    [
      'a class that is no handler',
      'conformance.pojo.OrderHandler$Line',
      'handler_not_found',
      'has no public method handleRequest',
    ],
    [
      'a static initializer that throws',
      'conformance.init.BrokenStatic',
      'handler_load_failed',
      'NumberFormatException',
    ],
  ])('refuses %s with a 400 and its reason', async (_what, handler, code, text) => {
    const shim = await start();
    const res = await shim.init(build, handler);
    expect(res.status).toBe(400);
    expect(res.headers['x-kiln-error']).toBe(code);
    const body = json(res.body) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(text);
  });

  it('refuses an unknown eventFormat', async () => {
    const shim = await start();
    const res = await shim.request('POST', '/init', {
      body: JSON.stringify({
        handler: 'conformance.legacy.Legacy',
        codeDir: build.codeDir,
        eventFormat: '3.0',
      }),
    });
    expect(res.status).toBe(400);
    expect(res.headers['x-kiln-error']).toBe('invalid_init');
  });

  it('listens on a unix socket passed as fd 0 (KILN_LISTEN_FD=0)', async () => {
    const shim = await start({ listen: 'fd0' });
    expect((await shim.init(build, 'conformance.legacy.Legacy')).status).toBe(200);
    const res = await shim.request('GET', '/via-fd0');
    expect(res.body.toString()).toBe('legacy conformance /via-fd0');
  });
});

describe('HTTP/1.1 as any client speaks it', () => {
  it('answers HEAD without a body, and reads the next request right after it', async () => {
    const shim = await serving('conformance.legacy.Legacy');
    const c = await shim.connect();
    c.write('HEAD /x HTTP/1.1\r\nhost: a\r\n\r\nGET /y HTTP/1.1\r\nhost: a\r\n\r\n');
    const data = await readUntil(
      c,
      (d) => parseResponses(d, ['HEAD', 'GET']).length === 2 && d.endsWith('/y'),
    );
    c.destroy();
    const [head, get] = parseResponses(data, ['HEAD', 'GET']);
    expect(head!.status).toBe(200);
    expect(head!.head).toMatch(/\r\ncontent-length: 21(\r\n|$)/);
    expect(head!.body).toBe('');
    expect(get!.body).toBe('legacy conformance /y');
  });

  it('answers Expect: 100-continue before the body is sent', async () => {
    const shim = await serving('conformance.events.EventEcho');
    const c = await shim.connect();
    c.write(
      'POST /e HTTP/1.1\r\nhost: a\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n',
    );
    const interim = await readUntil(c, (d) => d.includes('\r\n\r\n'));
    expect(interim).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.write('hello');
    const data = await readUntil(
      c,
      (d) => parseResponses(d).length === 1 && parseResponses(d)[0]!.body.endsWith('}'),
    );
    c.destroy();
    const [res] = parseResponses(data);
    expect(res!.status).toBe(200);
    expect((JSON.parse(res!.body) as { body: string }).body).toBe('hello');
  });

  it('answers pipelined requests in order', async () => {
    const shim = await serving('conformance.legacy.Legacy');
    const c = await shim.connect();
    c.write(
      'GET /1 HTTP/1.1\r\nhost: a\r\n\r\nPOST /2 HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nhost: a\r\n\r\n',
    );
    const data = await readUntil(c, (d) => parseResponses(d).length === 3);
    c.destroy();
    expect(parseResponses(data).map((r) => r.body)).toEqual([
      'legacy conformance /1',
      'legacy conformance /2',
      'legacy conformance /3',
    ]);
  });

  it('accepts a chunked body (extensions and trailers too)', async () => {
    const shim = await serving('conformance.events.EventEcho');
    const c = await shim.connect();
    c.write(
      'POST /c HTTP/1.1\r\nhost: a\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=1\r\ndefg\r\n0\r\ntrailer-a: 1\r\n\r\n',
    );
    const data = await readUntil(
      c,
      (d) => parseResponses(d).length === 1 && parseResponses(d)[0]!.body.endsWith('}'),
    );
    c.destroy();
    expect((JSON.parse(parseResponses(data)[0]!.body) as { body: string }).body).toBe('abcdefg');
  });

  it('a slow, half-sent request does not hold up other connections', async () => {
    const shim = await serving('conformance.legacy.Legacy');
    const slow = await shim.connect();
    slow.write('POST /slow HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\nabc');
    const other = await shim.request('GET', '/other');
    expect(other.body.toString()).toBe('legacy conformance /other');
    slow.write('defghij');
    const data = await readUntil(slow, (d) => parseResponses(d).length === 1);
    slow.destroy();
    expect(parseResponses(data)[0]!.body).toBe('legacy conformance /slow');
  });

  it('serves requests in parallel: three calls meet inside the handler at once', async () => {
    const shim = await serving('conformance.concurrency.Barrier', { concurrency: 3 });
    const answers = await Promise.all([1, 2, 3].map(() => shim.invoke('{}')));
    expect(answers.map((a) => a.body.toString())).toEqual(['"together"', '"together"', '"together"']);
  });

  it.each([
    ['a request line that is not HTTP', 'NONSENSE\r\n\r\n', 400],
    ['a space before the colon', 'GET / HTTP/1.1\r\nbad header : x\r\n\r\n', 400],
    ['a content-length that is no number', 'POST / HTTP/1.1\r\ncontent-length: abc\r\n\r\n', 400],
    [
      'both content-length and chunked',
      'POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n',
      400,
    ],
    ['a bad chunk size', 'POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 400],
    ['a head over 64 KiB', `GET / HTTP/1.1\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, 431],
  ])('answers %s with its status and closes the connection', async (_what, wire, status) => {
    const shim = await serving('conformance.legacy.Legacy');
    const c = await shim.connect();
    c.write(wire);
    const data = await readUntil(c, () => false); // until the shim closes the connection
    expect(parseResponses(data)[0]!.status).toBe(status);
    expect(data).toContain('\r\nconnection: close\r\n');
    expect((await shim.request('GET', '/still')).status).toBe(200);
  });

  it('caps the body at KILN_MAX_BODY_BYTES: 413 for a length or chunks past it, and no 100 Continue', async () => {
    const shim = await serving('conformance.legacy.Legacy', {}, { env: { KILN_MAX_BODY_BYTES: '1024' } });
    for (const wire of [
      'POST / HTTP/1.1\r\ncontent-length: 2048\r\nexpect: 100-continue\r\n\r\n',
      `POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n320\r\n${'a'.repeat(800)}\r\n320\r\n${'b'.repeat(800)}\r\n0\r\n\r\n`,
    ]) {
      const c = await shim.connect();
      c.write(wire);
      const data = await readUntil(c, () => false);
      expect(data).not.toContain('100 Continue');
      expect(parseResponses(data)[0]!.status).toBe(413);
    }
    expect((await shim.request('POST', '/ok', { body: 'a'.repeat(1024) })).status).toBe(200);
  });
});
