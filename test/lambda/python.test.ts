import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../harness.js';
import { PythonShim, type ShimResponse } from '../python-shim-process.js';

/**
 * Lambda conformance of the python shim, written from AWS's documentation:
 * - "Create AWS Lambda proxy integrations for HTTP APIs in API Gateway": the payload format
 *   2.0 and 1.0 structures and the "Lambda function response format" of each;
 * - "Set up Lambda proxy integrations in API Gateway" (REST): 1.0's single-value maps hold
 *   the last of repeated values;
 * - "Troubleshooting issues with HTTP API Lambda integrations": a failed function answers
 *   500 {"message":"Internal Server Error"};
 * - Lambda's python runtime (aws-lambda-python-runtime-interface-client, bootstrap.py and
 *   lambda_context.py): the context's attributes and types, the error object, log lines.
 * The shim runs as a real process on the host's python (SHIM-PROTOCOL.md §1-5).
 */
const CODE = path.join(ROOT, 'test/lambda/python');
const TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) \+0000$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const NBSP = '\u00a0';

const shims: PythonShim[] = [];
afterAll(async () => {
  for (const s of shims) await s.stop();
});

async function shimWith(init: Record<string, unknown> = {}): Promise<PythonShim> {
  const shim = await PythonShim.start();
  shims.push(shim);
  const res = await shim.init({
    handler: 'conformance.handler',
    codeDir: CODE,
    function: { name: 'conformance', version: 7, memoryMb: 256 },
    ...init,
  });
  expect(res.status).toBe(200);
  return shim;
}

/** Epoch seconds of an API Gateway `time` string. */
function clfSeconds(time: string): number {
  const [, d, mon, y, h, mi, s] = TIME.exec(time)!;
  return Date.UTC(Number(y), MONTHS.indexOf(mon!), Number(d), Number(h), Number(mi), Number(s)) / 1000;
}

/** The request of AWS's documented examples: repeated query keys and headers, cookies, a body. */
function documentedRequest(shim: PythonShim, target: string, requestId: string): Promise<ShimResponse> {
  return shim.request('POST', `${target}?parameter1=value1&parameter1=value2&parameter2=value`, {
    headers: {
      header1: 'value1',
      Header2: 'value1',
      header2: 'value2',
      cookie: 'cookie1; cookie2',
      'user-agent': 'agent',
      'x-forwarded-for': '203.0.113.9, 10.0.0.1',
      'content-type': 'text/plain',
      'x-kiln-request-id': requestId,
      'x-kiln-deadline': String(Date.now() + 60_000),
    },
    body: 'Hello from Lambda',
  });
}

describe('payload format 2.0: the event', () => {
  let shim: PythonShim;
  beforeAll(async () => {
    shim = await shimWith();
  });

  it('has every documented field, and no other', async () => {
    const before = Date.now();
    const event = JSON.parse((await documentedRequest(shim, '/event', 'req-v2')).text);
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
    expect(event.version).toBe('2.0');
    expect(event.routeKey).toBe('$default');
    expect(event.rawPath).toBe('/event');
    expect(event.rawQueryString).toBe('parameter1=value1&parameter1=value2&parameter2=value');
    expect(event.cookies).toEqual(['cookie1', 'cookie2']);
    // Header names lower-cased, repeated headers joined with commas, cookies not a header.
    expect(event.headers).toEqual({
      host: 'kiln.test',
      header1: 'value1',
      header2: 'value1,value2',
      'user-agent': 'agent',
      'x-forwarded-for': '203.0.113.9, 10.0.0.1',
      'content-type': 'text/plain',
      'content-length': '17',
    });
    expect(event.queryStringParameters).toEqual({ parameter1: 'value1,value2', parameter2: 'value' });
    expect(event.body).toBe('Hello from Lambda');
    expect(event.isBase64Encoded).toBe(false);

    const rc = event.requestContext;
    expect(Object.keys(rc).sort()).toEqual(
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
    expect(rc.accountId).toMatch(/^\d{12}$/);
    expect(typeof rc.apiId).toBe('string');
    expect(rc.domainName).toBe('kiln.test');
    expect(rc.domainPrefix).toBe('kiln');
    // sourceIp: the last X-Forwarded-For entry, the one Kiln's gateway appends.
    expect(rc.http).toEqual({
      method: 'POST',
      path: '/event',
      protocol: 'HTTP/1.1',
      sourceIp: '10.0.0.1',
      userAgent: 'agent',
    });
    expect(rc.requestId).toBe('req-v2');
    expect(rc.routeKey).toBe('$default');
    expect(rc.stage).toBe('$default');
    expect(rc.time).toMatch(TIME);
    expect(Number.isInteger(rc.timeEpoch)).toBe(true);
    expect(rc.timeEpoch).toBeGreaterThanOrEqual(before);
    expect(clfSeconds(rc.time)).toBe(Math.floor(rc.timeEpoch / 1000));
  });

  it('leaves out cookies, queryStringParameters and body when the request has none', async () => {
    const event = JSON.parse((await shim.request('GET', '/event')).text);
    expect(event).not.toHaveProperty('cookies');
    expect(event).not.toHaveProperty('queryStringParameters');
    expect(event).not.toHaveProperty('body');
    expect(event.rawQueryString).toBe('');
    expect(event.isBase64Encoded).toBe(false);
  });

  it('base64-encodes a binary body', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const event = JSON.parse(
      (
        await shim.request('PUT', '/event?a=%20x+y&flag', {
          headers: { 'content-type': 'application/octet-stream' },
          body: bytes,
        })
      ).text,
    );
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body, 'base64')).toEqual(bytes);
    expect(event.queryStringParameters).toEqual({ a: ' x y', flag: '' });
  });
});

describe('payload format 1.0: the event', () => {
  let shim: PythonShim;
  beforeAll(async () => {
    shim = await shimWith({ eventFormat: '1.0' });
  });

  it('has every documented field, and no other', async () => {
    const before = Date.now();
    const event = JSON.parse((await documentedRequest(shim, '/event', 'req-v1')).text);
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
    expect(event.version).toBe('1.0');
    // Every path reaches the handler as a REST API's greedy `/{proxy+}` resource.
    expect(event.resource).toBe('/{proxy+}');
    expect(event.pathParameters).toEqual({ proxy: 'event' });
    expect(event.path).toBe('/event');
    expect(event.httpMethod).toBe('POST');
    // Names as sent (the first spelling of a repeated one); single-value maps hold the last
    // value; the cookie header stays a header.
    expect(event.headers).toMatchObject({ header1: 'value1', Header2: 'value2', cookie: 'cookie1; cookie2' });
    expect(event.multiValueHeaders).toMatchObject({
      header1: ['value1'],
      Header2: ['value1', 'value2'],
      cookie: ['cookie1; cookie2'],
      host: ['kiln.test'],
    });
    expect(event.queryStringParameters).toEqual({ parameter1: 'value2', parameter2: 'value' });
    expect(event.multiValueQueryStringParameters).toEqual({
      parameter1: ['value1', 'value2'],
      parameter2: ['value'],
    });
    expect(event.stageVariables).toBeNull();
    expect(event.body).toBe('Hello from Lambda');
    expect(event.isBase64Encoded).toBe(false);

    const rc = event.requestContext;
    expect(Object.keys(rc).sort()).toEqual(
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
    expect(rc).toMatchObject({
      authorizer: { claims: null, scopes: null },
      domainName: 'kiln.test',
      domainPrefix: 'kiln',
      httpMethod: 'POST',
      path: '/event',
      protocol: 'HTTP/1.1',
      requestId: 'req-v1',
      extendedRequestId: 'req-v1',
      resourceId: null,
      resourcePath: '/{proxy+}',
      stage: '$default',
    });
    expect(rc.accountId).toMatch(/^\d{12}$/);
    expect(rc.identity).toEqual({
      accessKey: null,
      accountId: null,
      caller: null,
      cognitoAuthenticationProvider: null,
      cognitoAuthenticationType: null,
      cognitoIdentityId: null,
      cognitoIdentityPoolId: null,
      principalOrgId: null,
      sourceIp: '10.0.0.1',
      user: null,
      userAgent: 'agent',
      userArn: null,
    });
    expect(rc.requestTime).toMatch(TIME);
    expect(rc.requestTimeEpoch).toBeGreaterThanOrEqual(before);
    expect(clfSeconds(rc.requestTime)).toBe(Math.floor(rc.requestTimeEpoch / 1000));
  });

  it('has null query maps and a null body when the request has none', async () => {
    const event = JSON.parse((await shim.request('GET', '/event')).text);
    expect(event.queryStringParameters).toBeNull();
    expect(event.multiValueQueryStringParameters).toBeNull();
    expect(event.body).toBeNull();
    expect(event.isBase64Encoded).toBe(false);
  });

  it('decodes the proxy path parameter, and the root is the `/` resource', async () => {
    const deep = JSON.parse((await shim.request('GET', '/event/a%20b/c%2Fd')).text);
    expect(deep.pathParameters).toEqual({ proxy: 'event/a b/c/d' });
    expect(deep.path).toBe('/event/a%20b/c%2Fd');
    const root = JSON.parse((await shim.request('GET', '/')).text);
    expect(root).toMatchObject({ resource: '/', path: '/', pathParameters: null });
    expect(root.requestContext.resourcePath).toBe('/');
  });
});

/** Ask the handler to return `result` (JSON), or `bytes` (raw). */
function resultOf(shim: PythonShim, wanted: { result?: unknown; bytes?: string }): Promise<ShimResponse> {
  return shim.request('POST', '/result', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(wanted),
  });
}

describe('payload format 2.0: result rules', () => {
  let shim: PythonShim;
  beforeAll(async () => {
    shim = await shimWith();
  });

  it('a result without statusCode is a 200 application/json whose body is the result', async () => {
    const text = await resultOf(shim, { result: 'Hello from Lambda!' });
    expect(text).toMatchObject({ status: 200, text: 'Hello from Lambda!' });
    expect(text.headers['content-type']).toBe('application/json');
    const object = await resultOf(shim, { result: { message: 'Hello from Lambda!' } });
    expect(object.status).toBe(200);
    expect(object.headers['content-type']).toBe('application/json');
    // The body is what Lambda's python runtime serialized (json.dumps).
    expect(object.text).toBe('{"message": "Hello from Lambda!"}');
    expect((await resultOf(shim, { result: null })).text).toBe('null');
    expect((await resultOf(shim, { result: [1, 'two'] })).text).toBe('[1, "two"]');
  });

  it('a result with statusCode is the response: headers, cookies, body, isBase64Encoded', async () => {
    const res = await resultOf(shim, {
      result: {
        cookies: ['c1=1', 'c2=2; Path=/'],
        isBase64Encoded: false,
        statusCode: 201,
        headers: { 'X-Header': 'v', 'content-type': 'text/plain' },
        multiValueHeaders: { 'x-ignored': ['not in 2.0'] },
        body: 'Hello from Lambda!',
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers['x-header']).toBe('v');
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['set-cookie']).toBe('c1=1, c2=2; Path=/');
    expect(res.headers).not.toHaveProperty('x-ignored');
    expect(res.text).toBe('Hello from Lambda!');
    const binary = await resultOf(shim, {
      result: { statusCode: 200, body: Buffer.from([0, 255, 1]).toString('base64'), isBase64Encoded: true },
    });
    expect(binary.body).toEqual(Buffer.from([0, 255, 1]));
    // AWS documents no default; HTTP APIs answer text/plain (as the node shim does).
    expect(binary.headers['content-type']).toBe('text/plain; charset=utf-8');
  });
});

describe('payload format 1.0: result rules', () => {
  let shim: PythonShim;
  beforeAll(async () => {
    shim = await shimWith({ eventFormat: '1.0' });
  });

  it('merges headers and multiValueHeaders, multiValueHeaders winning for a name in both', async () => {
    const res = await resultOf(shim, {
      result: {
        statusCode: 202,
        headers: { a: '1', b: 'from headers' },
        multiValueHeaders: { b: ['2', '3'], 'Set-Cookie': ['x=1', 'y=2'] },
        body: 'done',
      },
    });
    expect(res.status).toBe(202);
    expect(res.headers).toMatchObject({ a: '1', b: '2, 3', 'set-cookie': 'x=1, y=2' });
    expect(res.text).toBe('done');
    const binary = await resultOf(shim, {
      result: { statusCode: 200, body: Buffer.from('bin').toString('base64'), isBase64Encoded: true },
    });
    expect(binary.text).toBe('bin');
  });

  it.each([
    ['a string', 'Hello from Lambda!'],
    ['an object without statusCode', { message: 'hi' }],
    ['a statusCode that is not a number', { statusCode: 'abc' }],
  ])('answers %s with 500 {"message":"Internal Server Error"}', async (_what, result) => {
    const res = await resultOf(shim, { result });
    expect(res.status).toBe(500);
    expect(res.text).toBe('{"message":"Internal Server Error"}');
    expect(res.headers['x-kiln-error']).toBe('invalid_result');
    await shim.line('stderr', (l) => /^\[ERROR\]\t.*\tMalformed Lambda proxy response: /.test(l));
  });
});

describe('the context object', () => {
  it("has the attributes and types of Lambda's python runtime", async () => {
    const shim = await shimWith();
    const deadline = Date.now() + 60_000;
    const ctx = JSON.parse(
      (
        await shim.request('GET', '/context', {
          headers: { 'x-kiln-request-id': 'req-ctx', 'x-kiln-deadline': String(deadline) },
        })
      ).text,
    );
    expect(ctx.class).toBe('LambdaContext');
    expect(ctx.types).toEqual({
      aws_request_id: 'str',
      function_name: 'str',
      function_version: 'str',
      memory_limit_in_mb: 'str',
      invoked_function_arn: 'str',
      log_group_name: 'str',
      log_stream_name: 'str',
      client_context: 'NoneType',
      identity: 'CognitoIdentity',
      tenant_id: 'NoneType',
    });
    expect(ctx.values).toMatchObject({
      aws_request_id: 'req-ctx',
      function_name: 'conformance',
      function_version: '7',
      memory_limit_in_mb: '256',
      invoked_function_arn: 'arn:aws:lambda:us-east-1:000000000000:function:conformance',
      log_group_name: '/aws/lambda/conformance',
    });
    expect(ctx.values.log_stream_name).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[7\][0-9a-f]{32}$/);
    expect(ctx.identity).toEqual({ cognito_identity_id: null, cognito_identity_pool_id: null });
    expect(ctx.remaining_type).toBe('int');
    expect(ctx.remaining).toBeGreaterThan(0);
    expect(ctx.remaining).toBeLessThanOrEqual(deadline - Date.now() + 1000);
    // Lambda's context has no `request_id`: code that used it would break on AWS.
    expect(ctx.has_request_id).toBe(false);
  });

  it("takes Lambda's variables from the environment the gateway passes, before the module loads", async () => {
    const shim = await shimWith({
      env: {
        AWS_LAMBDA_FUNCTION_NAME: 'named-by-env',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
        AWS_REGION: 'eu-west-1',
        GREETING: 'hi',
      },
    });
    const ctx = JSON.parse((await shim.request('GET', '/context')).text);
    expect(ctx.values).toMatchObject({
      function_name: 'named-by-env',
      memory_limit_in_mb: '512',
      invoked_function_arn: 'arn:aws:lambda:eu-west-1:000000000000:function:named-by-env',
    });
    expect(JSON.parse((await shim.request('GET', '/at_import')).text)).toEqual({
      GREETING: 'hi',
      task_root: CODE,
    });
  });
});

/** A raw invoke, as Lambda's Invoke API (and `sam local invoke`) sends it. */
function invoke(
  shim: PythonShim,
  event: string,
  headers: Record<string, string> = {},
): Promise<ShimResponse> {
  return shim.request('POST', '/2015-03-31/functions/conformance/invocations', {
    headers: { 'x-kiln-invoke': 'raw', 'x-kiln-request-id': 'req-raw', ...headers },
    body: event,
  });
}

describe('raw invokes (Lambda Invoke API)', () => {
  let shim: PythonShim;
  beforeAll(async () => {
    shim = await shimWith();
  });

  it('passes any JSON event and answers the result as JSON', async () => {
    const res = await invoke(shim, '{"action": "event", "list": [1, 2], "nested": {"a": null}}');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.text)).toEqual({ action: 'event', list: [1, 2], nested: { a: null } });
    expect(res.headers).not.toHaveProperty('x-kiln-function-error');
    const bytes = await invoke(
      shim,
      JSON.stringify({
        action: 'result',
        body: JSON.stringify({ bytes: Buffer.from('raw!').toString('base64') }),
      }),
    );
    expect(bytes.text).toBe('raw!');
    const none = await invoke(shim, JSON.stringify({ action: 'result', body: '{"result": null}' }));
    expect(none.text).toBe('null');
  });

  it("answers a handler's error with Lambda's error object and x-kiln-function-error: Unhandled", async () => {
    const res = await invoke(shim, '{"action": "fail"}');
    expect(res.status).toBe(200);
    expect(res.headers['x-kiln-function-error']).toBe('Unhandled');
    const error = JSON.parse(res.text);
    expect(Object.keys(error)).toEqual(['errorMessage', 'errorType', 'requestId', 'stackTrace']);
    expect(error).toMatchObject({
      errorMessage: 'failed on purpose',
      errorType: 'ValueError',
      requestId: 'req-raw',
    });
    // traceback.format_list lines from the handler down, the shim's own frames left out.
    const file = path.join(CODE, 'conformance.py');
    expect(error.stackTrace).toHaveLength(4);
    expect(error.stackTrace[0]).toMatch(
      new RegExp(`^  File "${file}", line \\d+, in handler\\n    return act\\(.*\\)\\n$`),
    );
    expect(error.stackTrace[3]).toMatch(/^ {2}File ".*", line \d+, in nested_failure\n {4}raise ValueError/);
    // And the runtime's log line for it.
    await shim.line('stderr', (l) => l.startsWith('[ERROR] ValueError: failed on purpose\r'));
  });

  it('answers an unserializable result with Runtime.MarshalError', async () => {
    const res = await invoke(shim, '{"action": "unserializable"}');
    expect(res.headers['x-kiln-function-error']).toBe('Unhandled');
    expect(JSON.parse(res.text)).toEqual({
      errorMessage: 'Unable to marshal response: Object of type set is not JSON serializable',
      errorType: 'Runtime.MarshalError',
      requestId: 'req-raw',
      stackTrace: [],
    });
  });

  it('takes a body that is not JSON as a 400, an empty one as {}', async () => {
    const bad = await invoke(shim, '{not json');
    expect(bad.status).toBe(400);
    expect(bad.headers['x-kiln-error']).toBe('invalid_request_content');
    const empty = await shim.request('POST', '/', { headers: { 'x-kiln-invoke': 'raw' } });
    expect(empty).toMatchObject({ status: 200, text: '{}' });
  });

  it('gives the handler the client context of X-Amz-Client-Context', async () => {
    const clientContext = {
      client: { installation_id: 'install-1', app_title: 'App' },
      custom: { k: 'v' },
      env: { platform: 'test' },
    };
    const res = await invoke(shim, '{"action": "context"}', {
      'x-amz-client-context': Buffer.from(JSON.stringify(clientContext)).toString('base64'),
    });
    const ctx = JSON.parse(res.text);
    expect(ctx.types.client_context).toBe('ClientContext');
    expect(ctx.client_context).toEqual({
      custom: { k: 'v' },
      env: { platform: 'test' },
      client: { installation_id: 'install-1', app_title: 'App' },
    });
  });
});

describe('handler errors and logs', () => {
  it('a handler that throws: 500 as API Gateway answers, the traceback in the log, the instance serving on', async () => {
    const shim = await shimWith();
    const res = await shim.request('GET', '/fail', { headers: { 'x-kiln-request-id': 'req-fail' } });
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-kiln-error']).toBe('handler_error');
    expect(res.text).toBe('{"message":"Internal Server Error"}');
    const line = await shim.line('stderr', (l) => l.startsWith('[ERROR] ValueError'));
    const parts = line.split('\r');
    expect(parts[0]).toBe('[ERROR] ValueError: failed on purpose');
    expect(parts[1]).toBe('Traceback (most recent call last):');
    expect(parts[2]).toMatch(new RegExp(`^${NBSP}{2}File ".*conformance.py", line \\d+, in handler$`));
    expect(parts[3]).toMatch(new RegExp(`^${NBSP}{4}return act\\(`));
    expect(parts.at(-1)).toMatch(new RegExp(`^${NBSP}{4}raise ValueError\\("failed on purpose"\\)$`));
    expect((await shim.request('GET', '/event')).status).toBe(200);
  });

  it("logging uses Lambda's line format with the request id; root stays at WARNING; print is raw", async () => {
    const shim = await shimWith();
    await shim.request('GET', '/log', { headers: { 'x-kiln-request-id': 'req-log' } });
    const warning = await shim.line('stdout', (l) => l.includes('a warning line'));
    expect(warning).toMatch(
      /^\[WARNING\]\t\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\treq-log\ta warning line$/,
    );
    expect(shim.stdout).toContain('printed as is');
    expect(shim.stdout).toContain('context.log line');
    expect(shim.stdout.some((l) => l.includes('an info line'))).toBe(false);
    // A record with a traceback is one line: its line breaks become \r.
    const exception = await shim.line('stdout', (l) => l.includes('\tcaught'));
    expect(exception).toMatch(/^\[ERROR\]\t.*\treq-log\tcaught\rTraceback \(most recent call last\):\r/);
  });

  it('AWS_LAMBDA_LOG_LEVEL sets the root level', async () => {
    const shim = await shimWith({ env: { AWS_LAMBDA_LOG_LEVEL: 'DEBUG' } });
    await shim.request('GET', '/log', { headers: { 'x-kiln-request-id': 'req-debug' } });
    expect(await shim.line('stdout', (l) => l.includes('a debug line'))).toMatch(
      /^\[DEBUG\]\t.*\treq-debug\t/,
    );
  });

  it('AWS_LAMBDA_LOG_FORMAT=JSON writes JSON records and JSON error lines, each with its request id', async () => {
    const shim = await shimWith({ env: { AWS_LAMBDA_LOG_FORMAT: 'JSON' } });
    await shim.request('GET', '/log', { headers: { 'x-kiln-request-id': 'req-json' } });
    const record = JSON.parse(await shim.line('stdout', (l) => l.includes('a warning line')));
    expect(record).toMatchObject({
      level: 'WARNING',
      message: 'a warning line',
      logger: 'conformance',
      requestId: 'req-json',
    });
    expect(record.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const caught = JSON.parse(await shim.line('stdout', (l) => l.includes('"caught"')));
    expect(caught).toMatchObject({
      level: 'ERROR',
      errorType: 'ValueError',
      errorMessage: 'failed on purpose',
    });
    expect(caught.location).toMatch(/conformance\.py:act:\d+$/);
    await shim.request('GET', '/fail', { headers: { 'x-kiln-request-id': 'req-json-fail' } });
    const error = JSON.parse(await shim.line('stderr', (l) => l.includes('req-json-fail')));
    expect(error).toMatchObject({
      log_level: 'ERROR',
      errorType: 'ValueError',
      errorMessage: 'failed on purpose',
      requestId: 'req-json-fail',
    });
  });

  it('tags each log line with its own request id when two requests run at once', async () => {
    const shim = await shimWith({ concurrency: 2 });
    const waiting = shim.request('GET', '/wait', { headers: { 'x-kiln-request-id': 'req-a' } });
    await shim.line('stdout', (l) => l.endsWith('\twaiting'));
    await shim.request('GET', '/release', { headers: { 'x-kiln-request-id': 'req-b' } });
    expect((await waiting).text).toBe('released');
    expect(shim.stdout.find((l) => l.endsWith('\twaiting'))).toContain('\treq-a\t');
    expect(shim.stdout.find((l) => l.endsWith('\treleasing'))).toContain('\treq-b\t');
  });
});
