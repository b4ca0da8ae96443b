// Conformance of the Node shim with AWS Lambda's documented behaviour, one process per case
// family, handlers written the way AWS's docs write them. Sources (AWS documentation):
// - "Create AWS Lambda proxy integrations for HTTP APIs in API Gateway": payload formats 1.0
//   and 2.0, their example events and their response rules;
// - "Lambda proxy integrations in API Gateway" (REST): the 1.0 input and output formats;
// - "Using the Lambda context object to retrieve Node.js function information";
// - "Log and monitor Node.js Lambda functions" and the runtime interface client's LogPatch.js;
// - "AWS Lambda function errors in Node.js" and Errors.js (Invoke API error JSON);
// - "Response streaming for Lambda functions" (awslambda.streamifyResponse, HttpResponseStream).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawConnection, ShimProcess } from '../shim-process.js';

const HANDLERS = `
const describeContext = (context) => {
  const types = {};
  for (const k of Object.keys(context)) types[k] = typeof context[k];
  return { ...context, types, remaining: context.getRemainingTimeInMillis() };
};
export const echo = async (event, context) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ event, context: describeContext(context) }),
});
// Returns the JSON it was sent: the result rules under test.
export const result = async (event) => {
  const spec = JSON.parse(event.body);
  return spec && spec.returnUndefined ? undefined : spec;
};
export const raw = async (event, context) => {
  if (event.throw) throw new TypeError(event.throw);
  if (event.throwString) throw event.throwString;
  if (event.context) return { id: context.awsRequestId, event };
  if (event.clientContext) return context.clientContext ?? 'none';
  return event.value;
};
export const logs = async (event, context) => {
  const id = context.awsRequestId;
  console.log('start', id);
  await new Promise((r) => setTimeout(r, Number(event.queryStringParameters?.ms ?? 0)));
  await new Promise((r) => setTimeout(() => { console.info('timer', id); r(); }, 1));
  console.debug('debug', id);
  console.warn('warn', id);
  console.error('end', id, 'two\\nlines');
  if (event.queryStringParameters?.fail) throw new RangeError('failed ' + id);
  return { statusCode: 200, body: id };
};
`;

const STREAMS = `
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
let release;
export const gated = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.rawPath === '/release') {
    release?.();
    responseStream.end('released');
    return;
  }
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/plain', 'x-stream': 'yes' },
    cookies: ['a=1', 'b=2'],
  });
  stream.write('first\\n');
  await new Promise((r) => { release = r; });
  stream.write('second\\n');
  stream.end();
});
export const piped = awslambda.streamifyResponse(async (event, responseStream) => {
  await pipeline(Readable.from(['a', 'b', { c: 1 }]), responseStream);
});
export const typed = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/csv');
  responseStream.end('x,y');
});
export const notAsync = awslambda.streamifyResponse((event, responseStream) => {
  setTimeout(() => responseStream.end('too late'), 10);
});
export const unfinished = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('half');
});
export const throwsFirst = awslambda.streamifyResponse(async () => {
  throw new Error('before any byte');
});
`;

const WEB_STREAM = `
let release;
const enc = (s) => new TextEncoder().encode(s);
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/release') {
      release?.();
      return new Response('released');
    }
    let step = 0;
    const body = new ReadableStream({
      async pull(controller) {
        step++;
        if (step === 1) controller.enqueue(enc('first\\n'));
        else if (step === 2) {
          await new Promise((r) => { release = r; });
          controller.enqueue(enc('second\\n'));
        } else controller.close();
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  },
};
`;

let dir: string;
const shims: ShimProcess[] = [];

async function shimFor(
  payload: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<ShimProcess> {
  const shim = await ShimProcess.start(path.join(dir, `s${shims.length}.sock`), env);
  shims.push(shim);
  const res = await shim.init({ codeDir: dir, ...payload });
  expect(res.status, res.text).toBe(200);
  return shim;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-lambda-node-'));
  await writeFile(path.join(dir, 'lam.mjs'), HANDLERS);
  await writeFile(path.join(dir, 'streams.mjs'), STREAMS);
  await writeFile(path.join(dir, 'web.mjs'), WEB_STREAM);
});

afterAll(async () => {
  for (const s of shims) await s.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The first response on a raw connection, content-length framed: status, headers, body. */
function parseResponse(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines)
    headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  const length = Number(headers['content-length']);
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4, end + 4 + length) };
}

/** AWS's documented example request, sent byte for byte as a client would. */
async function exampleRequest(
  shim: ShimProcess,
): Promise<{ event: Record<string, unknown>; before: number }> {
  const body = 'Hello from Lambda';
  const conn = new RawConnection(shim.socketPath);
  const before = Date.now();
  conn.write(
    'POST /my/path?parameter1=value1&parameter1=value2&parameter2=value HTTP/1.1\r\n' +
      'Host: id.execute-api.us-east-1.amazonaws.com\r\n' +
      'header1: value1\r\nHeader2: value1\r\nheader2: value2\r\n' +
      'cookie: cookie1; cookie2\r\nUser-Agent: agent\r\n' +
      'X-Forwarded-For: 203.0.113.9, 198.51.100.7\r\n' +
      'x-kiln-request-id: id\r\nx-kiln-deadline: 99999999999999\r\n' +
      `content-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
  const res = parseResponse(await conn.untilClosed());
  expect(res.status).toBe(200);
  return { event: JSON.parse(res.body).event, before };
}

const AWS_TIME = /^\d{2}\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/;

/** `12/Mar/2020:19:03:58 +0000` names the same second as the epoch milliseconds beside it. */
function expectSameSecond(time: string, epochMs: number, before: number): void {
  expect(time).toMatch(AWS_TIME);
  const [d, mon, rest] = time.split('/');
  const [y, hh, mm, ss] = rest!.slice(0, -6).split(':');
  const parsed = Date.parse(`${d} ${mon} ${y} ${hh}:${mm}:${ss} GMT`);
  expect(parsed).toBe(Math.floor(epochMs / 1000) * 1000);
  expect(epochMs).toBeGreaterThanOrEqual(before);
  expect(epochMs).toBeLessThanOrEqual(Date.now());
}

describe('API Gateway payload format 2.0 (the default)', () => {
  let shim: ShimProcess;
  beforeAll(async () => {
    shim = await shimFor({ handler: 'lam.echo' });
  });

  it('builds the documented event field by field', async () => {
    const { event, before } = await exampleRequest(shim);
    const rc = event.requestContext as Record<string, unknown>;
    expect(event).toEqual({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/my/path',
      rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
      cookies: ['cookie1', 'cookie2'],
      headers: {
        host: 'id.execute-api.us-east-1.amazonaws.com',
        header1: 'value1',
        header2: 'value1,value2',
        'user-agent': 'agent',
        'x-forwarded-for': '203.0.113.9, 198.51.100.7',
        'content-type': 'text/plain',
        'content-length': '17',
        connection: 'close',
      },
      queryStringParameters: { parameter1: 'value1,value2', parameter2: 'value' },
      requestContext: {
        accountId: '000000000000',
        apiId: 'kiln',
        domainName: 'id.execute-api.us-east-1.amazonaws.com',
        domainPrefix: 'id',
        http: {
          method: 'POST',
          path: '/my/path',
          protocol: 'HTTP/1.1',
          // The entry Kiln's gateway appended: the ones before it are the client's word.
          sourceIp: '198.51.100.7',
          userAgent: 'agent',
        },
        requestId: 'id',
        routeKey: '$default',
        stage: '$default',
        time: rc.time,
        timeEpoch: rc.timeEpoch,
      },
      body: 'Hello from Lambda',
      isBase64Encoded: false,
    });
    expectSameSecond(rc.time as string, rc.timeEpoch as number, before);
  });

  it('leaves out the query, cookies and body a request does not have; base64-encodes binary bodies', async () => {
    const bare = JSON.parse((await shim.call('GET', '/')).text).event;
    expect(bare).not.toHaveProperty('queryStringParameters');
    expect(bare).not.toHaveProperty('cookies');
    expect(bare).not.toHaveProperty('body');
    expect(bare.isBase64Encoded).toBe(false);
    const bytes = Buffer.from([0, 1, 2, 255]);
    const bin = JSON.parse(
      (await shim.call('PUT', '/b', bytes, { 'content-type': 'application/octet-stream' })).text,
    ).event;
    expect(bin).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
  });
});

describe('API Gateway payload format 1.0 (eventFormat "1.0")', () => {
  let shim: ShimProcess;
  beforeAll(async () => {
    shim = await shimFor({ handler: 'lam.echo', eventFormat: '1.0' });
  });

  it('builds the documented event field by field', async () => {
    const { event, before } = await exampleRequest(shim);
    const rc = event.requestContext as Record<string, unknown>;
    const sent = {
      Host: 'id.execute-api.us-east-1.amazonaws.com',
      header1: 'value1',
      Header2: 'value2',
      cookie: 'cookie1; cookie2',
      'User-Agent': 'agent',
      'X-Forwarded-For': '203.0.113.9, 198.51.100.7',
      'content-type': 'text/plain',
      'content-length': '17',
      connection: 'close',
    };
    expect(event).toEqual({
      version: '1.0',
      resource: '/{proxy+}',
      path: '/my/path',
      httpMethod: 'POST',
      // Names as sent; a repeated header keeps its last value here, all of them below.
      headers: sent,
      multiValueHeaders: {
        ...Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, [v]])),
        Header2: ['value1', 'value2'],
      },
      queryStringParameters: { parameter1: 'value2', parameter2: 'value' },
      multiValueQueryStringParameters: { parameter1: ['value1', 'value2'], parameter2: ['value'] },
      requestContext: {
        accountId: '000000000000',
        apiId: 'kiln',
        authorizer: { claims: null, scopes: null },
        domainName: 'id.execute-api.us-east-1.amazonaws.com',
        domainPrefix: 'id',
        extendedRequestId: 'id',
        httpMethod: 'POST',
        identity: {
          accessKey: null,
          accountId: null,
          caller: null,
          cognitoAuthenticationProvider: null,
          cognitoAuthenticationType: null,
          cognitoIdentityId: null,
          cognitoIdentityPoolId: null,
          principalOrgId: null,
          sourceIp: '198.51.100.7',
          user: null,
          userAgent: 'agent',
          userArn: null,
        },
        path: '/my/path',
        protocol: 'HTTP/1.1',
        requestId: 'id',
        requestTime: rc.requestTime,
        requestTimeEpoch: rc.requestTimeEpoch,
        resourceId: null,
        resourcePath: '/{proxy+}',
        stage: '$default',
      },
      pathParameters: { proxy: 'my/path' },
      stageVariables: null,
      body: 'Hello from Lambda',
      isBase64Encoded: false,
    });
    expectSameSecond(rc.requestTime as string, rc.requestTimeEpoch as number, before);
  });

  it('has nulls for what a request lacks, the root resource for /, and decoded path parameters', async () => {
    const root = JSON.parse((await shim.call('GET', '/')).text).event;
    expect(root).toMatchObject({
      resource: '/',
      path: '/',
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      body: null,
      isBase64Encoded: false,
    });
    expect(root.requestContext.resourcePath).toBe('/');
    const nested = JSON.parse((await shim.call('DELETE', '/a%20b/c')).text).event;
    expect(nested).toMatchObject({
      httpMethod: 'DELETE',
      path: '/a%20b/c',
      pathParameters: { proxy: 'a b/c' },
    });
  });
});

describe('result rules', () => {
  let v2: ShimProcess;
  let v1: ShimProcess;
  beforeAll(async () => {
    v2 = await shimFor({ handler: 'lam.result' });
    v1 = await shimFor({ handler: 'lam.result', eventFormat: '1.0' });
  });
  const send = (shim: ShimProcess, result: unknown) =>
    shim.call('POST', '/', JSON.stringify(result), { 'content-type': 'application/json' });

  it('2.0: a result with statusCode is the response: headers, cookies, base64 body', async () => {
    const res = await send(v2, {
      statusCode: 201,
      headers: { 'X-Custom': 'one', 'Content-Type': 'text/html' },
      cookies: ['a=1; Path=/', 'b=2'],
      body: Buffer.from('<p>hi</p>').toString('base64'),
      isBase64Encoded: true,
    });
    expect(res.status).toBe(201);
    expect(res.text).toBe('<p>hi</p>');
    expect(res.headers).toMatchObject({
      'x-custom': 'one',
      'content-type': 'text/html',
      'set-cookie': ['a=1; Path=/', 'b=2'],
    });
  });

  it('2.0: any other value is a 200 application/json whose body is the value', async () => {
    for (const [value, body] of [
      [{ message: 'Hello from Lambda!' }, '{"message":"Hello from Lambda!"}'],
      ['Hello from Lambda!', 'Hello from Lambda!'],
      [[1, 2], '[1,2]'],
      [42, '42'],
      [{ returnUndefined: true }, 'null'],
    ] as const) {
      const res = await send(v2, value);
      expect({ status: res.status, type: res.headers['content-type'], body: res.text }).toEqual({
        status: 200,
        type: 'application/json',
        body,
      });
    }
  });

  it('2.0: a statusCode result without content-type is text/plain, as HTTP APIs answer', async () => {
    const res = await send(v2, { statusCode: 200, body: 'plain' });
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe('plain');
  });

  it('1.0: headers and multiValueHeaders merge, multiValueHeaders winning a shared name', async () => {
    const res = await send(v1, {
      statusCode: 202,
      headers: { 'X-One': 'single', 'X-Both': 'from-headers' },
      multiValueHeaders: { 'X-Both': ['m1', 'm2'], 'Set-Cookie': ['a=1', 'b=2'] },
      body: 'accepted',
      isBase64Encoded: false,
    });
    expect(res.status).toBe(202);
    expect(res.text).toBe('accepted');
    expect(res.headers).toMatchObject({
      'x-one': 'single',
      'x-both': ['m1', 'm2'],
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'application/json',
    });
  });

  it.each([[{ message: 'no statusCode' }], ['a string'], [{ returnUndefined: true }]])(
    '1.0: %j without statusCode is refused as API Gateway does: 500',
    async (value) => {
      const res = await send(v1, value);
      expect(res).toMatchObject({ status: 500, text: '{"message":"Internal Server Error"}' });
      expect(res.headers['x-kiln-error']).toBe('invalid_result');
      await v1.line('stderr', /\tERROR\tMalformed Lambda proxy response/);
    },
  );
});

describe('the context object', () => {
  it("has Lambda's fields with the types Lambda's Node.js runtime gives, from Lambda's variables", async () => {
    const shim = await shimFor({
      handler: 'lam.echo',
      function: { name: 'ignored', version: 9, memoryMb: 1 },
      env: {
        AWS_LAMBDA_FUNCTION_NAME: 'orders',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/orders',
        AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/02/[$LATEST]abc',
        AWS_REGION: 'eu-west-1',
      },
    });
    const sentAt = Date.now();
    const deadline = sentAt + 60_000;
    const res = await shim.call('GET', '/', undefined, {
      'x-kiln-request-id': 'req-1',
      'x-kiln-deadline': String(deadline),
    });
    const { context } = JSON.parse(res.text);
    expect(context).toEqual({
      callbackWaitsForEmptyEventLoop: true,
      functionName: 'orders',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:orders',
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/orders',
      logStreamName: '2026/01/02/[$LATEST]abc',
      awsRequestId: 'req-1',
      remaining: expect.any(Number),
      types: {
        callbackWaitsForEmptyEventLoop: 'boolean',
        functionName: 'string',
        functionVersion: 'string',
        invokedFunctionArn: 'string',
        memoryLimitInMB: 'string',
        logGroupName: 'string',
        logStreamName: 'string',
        clientContext: 'undefined',
        identity: 'undefined',
        awsRequestId: 'string',
        getRemainingTimeInMillis: 'function',
        done: 'function',
        succeed: 'function',
        fail: 'function',
      },
    });
    expect(context.remaining).toBeGreaterThan(0);
    expect(context.remaining).toBeLessThanOrEqual(deadline - sentAt);
  });

  it("falls back to /init's function facts, still as strings", async () => {
    const shim = await shimFor({
      handler: 'lam.echo',
      function: { name: 'fallback', version: 4, memoryMb: 128 },
    });
    const { context } = JSON.parse((await shim.call('GET', '/')).text);
    expect(context).toMatchObject({
      functionName: 'fallback',
      functionVersion: '4',
      memoryLimitInMB: '128',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fallback',
      logGroupName: '/aws/lambda/fallback',
    });
  });
});

describe('raw invokes (x-kiln-invoke: raw, the Invoke API)', () => {
  let shim: ShimProcess;
  beforeAll(async () => {
    shim = await shimFor({ handler: 'lam.raw' });
  });
  const invoke = (event: string) =>
    shim.call('POST', '/', event, { 'x-kiln-invoke': 'raw', 'x-kiln-request-id': 'raw-1' });

  it('gives the handler the JSON body as its event and answers its result as JSON', async () => {
    expect(await invoke('{"context":true,"n":[1]}')).toMatchObject({
      status: 200,
      text: '{"id":"raw-1","event":{"context":true,"n":[1]}}',
      headers: { 'content-type': 'application/json' },
    });
    expect((await invoke('{"value":"text"}')).text).toBe('"text"');
    expect((await invoke('{"value":null}')).text).toBe('null');
    expect((await invoke('{}')).text).toBe('null');
    // Any JSON value is an event; an empty body is {} as in the Invoke API.
    expect((await invoke('')).text).toBe('null');
    expect((await invoke('[1,2]')).status).toBe(200);
  });

  it("answers a thrown error with Lambda's Node.js error JSON and X-Amz-Function-Error's value", async () => {
    const res = await invoke('{"throw":"bad input"}');
    expect(res.status).toBe(200);
    expect(res.headers['x-kiln-function-error']).toBe('Unhandled');
    const body = JSON.parse(res.text);
    expect(Object.keys(body)).toEqual(['errorType', 'errorMessage', 'trace']);
    expect(body).toMatchObject({ errorType: 'TypeError', errorMessage: 'bad input' });
    expect(body.trace[0]).toBe('TypeError: bad input');
    expect(body.trace.length).toBeGreaterThan(1);
    const thrownString = JSON.parse((await invoke('{"throwString":"plain"}')).text);
    expect(thrownString).toEqual({ errorType: 'string', errorMessage: 'plain', trace: [] });
    await shim.line(
      'stderr',
      /\traw-1\tERROR\tInvoke Error \t\{"errorType":"TypeError","errorMessage":"bad input"/,
    );
  });

  it('gives the handler X-Amz-Client-Context as context.clientContext; a malformed one is a 400', async () => {
    const clientContext = {
      client: { installation_id: 'install-1', app_title: 'App' },
      custom: { k: 'v' },
      env: {},
    };
    const call = (header?: string) =>
      shim.call('POST', '/', '{"clientContext":true}', {
        'x-kiln-invoke': 'raw',
        ...(header === undefined ? {} : { 'x-amz-client-context': header }),
      });
    expect(
      JSON.parse((await call(Buffer.from(JSON.stringify(clientContext)).toString('base64'))).text),
    ).toEqual(clientContext);
    expect((await call()).text).toBe('"none"');
    const bad = await call(Buffer.from('"text"').toString('base64'));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.code).toBe('invalid_request_content');
  });

  it('refuses a body that is not JSON', async () => {
    const res = await invoke('{nope');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.code).toBe('invalid_event');
  });

  it('is refused for a fetch-style handler', async () => {
    const web = await shimFor({ handler: 'web.mjs' });
    const res = await web.call('POST', '/', '{}', { 'x-kiln-invoke': 'raw' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error.code).toBe('raw_invoke_unsupported');
  });
});

describe('errors and logs', () => {
  let shim: ShimProcess;
  beforeAll(async () => {
    shim = await shimFor({ handler: 'lam.logs', concurrency: 8 });
  });

  it("a thrown error: API Gateway's 500 for the client, the Invoke Error line with the stack in the log", async () => {
    const res = await shim.call('GET', '/?fail=1', undefined, { 'x-kiln-request-id': 'fail-1' });
    expect(res).toMatchObject({ status: 500, text: '{"message":"Internal Server Error"}' });
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-kiln-error']).toBe('handler_error');
    const line = await shim.line('stderr', /\tfail-1\tERROR\tInvoke Error /);
    const [time, id, level, message] = line.split('\t');
    expect(time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect([id, level, message]).toEqual(['fail-1', 'ERROR', 'Invoke Error ']);
    const error = JSON.parse(line.slice(line.indexOf('Invoke Error \t') + 'Invoke Error \t'.length));
    expect(error).toMatchObject({ errorType: 'RangeError', errorMessage: 'failed fail-1' });
    expect(error.stack[0]).toBe('RangeError: failed fail-1');
    // The instance keeps serving.
    expect((await shim.call('GET', '/')).status).toBe(200);
  });

  it('console lines carry the request id they belong to, with requests running at once', async () => {
    const pool = new Pool('http://shim', { socketPath: shim.socketPath, connections: 8 });
    try {
      const ids = Array.from({ length: 8 }, (_, i) => `concurrent-${i}`);
      // Later requests finish first: their lines interleave with the earlier ones'.
      const answers = await Promise.all(
        ids.map(async (id, i) => {
          const res = await pool.request({
            method: 'GET',
            path: `/?ms=${(8 - i) * 15}`,
            headers: { 'x-kiln-request-id': id },
          });
          return res.body.text();
        }),
      );
      expect(answers).toEqual(ids);
      for (const id of ids) await shim.line('stderr', new RegExp(`\\tERROR\\tend ${id}`));
    } finally {
      await pool.close();
    }
    const mine = (l: string) => l.includes('concurrent-');
    const lines = [...shim.stdout.filter(mine), ...shim.stderr.filter(mine)];
    expect(lines.length).toBe(8 * 5);
    for (const line of lines) {
      const [, id, level, message] = line.split('\t');
      // The id in the line's own field is the id the handler wrote into the message.
      expect(message).toContain(` ${id}`);
      expect(['INFO', 'DEBUG', 'WARN', 'ERROR']).toContain(level);
    }
    // A message's newlines become \r: one console call, one line.
    expect(shim.stderr.find((l) => l.includes('end concurrent-0'))).toMatch(/two\rlines$/);
    // INFO and DEBUG to stdout, WARN and ERROR to stderr.
    expect(shim.stdout.filter(mine).every((l) => /\t(INFO|DEBUG)\t/.test(l))).toBe(true);
    expect(shim.stderr.filter(mine).every((l) => /\t(WARN|ERROR)\t/.test(l))).toBe(true);
  });

  it('AWS_LAMBDA_LOG_LEVEL filters lines; AWS_LAMBDA_LOG_FORMAT=JSON writes JSON lines', async () => {
    // concurrency 1: the request id is kept the way Lambda keeps it, in a global.
    const json = await shimFor({
      handler: 'lam.logs',
      concurrency: 1,
      env: { AWS_LAMBDA_LOG_LEVEL: 'WARN', AWS_LAMBDA_LOG_FORMAT: 'JSON' },
    });
    await json.call('GET', '/?fail=1', undefined, { 'x-kiln-request-id': 'json-1' });
    await json.line('stderr', /"message":"end json-1/);
    const lines = [...json.stdout, ...json.stderr]
      .filter((l) => l.includes('json-1'))
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.level)).toEqual(['WARN', 'ERROR', 'ERROR']);
    expect(lines[0]).toEqual({
      timestamp: expect.any(String),
      level: 'WARN',
      requestId: 'json-1',
      message: 'warn json-1',
    });
    // The Invoke Error in JSON: the error itself as the message.
    expect(lines[2].message).toMatchObject({ errorType: 'RangeError', errorMessage: 'failed json-1' });
  });
});

describe('response streaming', () => {
  /** Read a streamed body chunk by chunk, calling `onFirst` once the first has arrived. */
  async function readStream(shim: ShimProcess, onFirst: () => Promise<unknown>) {
    const client = new Client('http://shim', { socketPath: shim.socketPath });
    try {
      const res = await client.request({ method: 'GET', path: '/stream' });
      const chunks: string[] = [];
      for await (const chunk of res.body) {
        chunks.push(String(chunk));
        // The handler is still waiting to be released: this chunk came before it finished.
        if (chunks.length === 1) await onFirst();
      }
      return { status: res.statusCode, headers: res.headers, chunks };
    } finally {
      await client.close();
    }
  }

  it('a fetch-style Response with a ReadableStream body is sent as it is produced (chunked)', async () => {
    const shim = await shimFor({ handler: 'web.mjs' });
    const released: string[] = [];
    const res = await readStream(shim, async () => released.push((await shim.call('GET', '/release')).text));
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers).not.toHaveProperty('content-length');
    expect(res.chunks).toEqual(['first\n', 'second\n']);
    expect(released).toEqual(['released']);
  });

  it('awslambda.streamifyResponse with HttpResponseStream.from: the prelude is the status and headers', async () => {
    const shim = await shimFor({ handler: 'streams.gated' });
    const res = await readStream(shim, () => shim.call('GET', '/release'));
    expect(res.status).toBe(201);
    expect(res.headers).toMatchObject({
      'content-type': 'text/plain',
      'x-stream': 'yes',
      'set-cookie': ['a=1', 'b=2'],
      'transfer-encoding': 'chunked',
    });
    expect(res.chunks.join('')).toBe('first\nsecond\n');
    expect(res.chunks[0]).toBe('first\n');
  });

  it('a streaming handler piping into the stream; setContentType; objects written as JSON', async () => {
    const piped = await shimFor({ handler: 'streams.piped' });
    expect(await piped.call('GET', '/')).toMatchObject({
      status: 200,
      text: 'ab{"c":1}',
      headers: { 'content-type': 'application/octet-stream' },
    });
    const typed = await shimFor({ handler: 'streams.typed' });
    expect(await typed.call('GET', '/')).toMatchObject({
      text: 'x,y',
      headers: { 'content-type': 'text/csv' },
    });
    // Raw invoke of a streaming handler: the bytes as written.
    expect(await typed.call('POST', '/', '{}', { 'x-kiln-invoke': 'raw' })).toMatchObject({
      status: 200,
      text: 'x,y',
    });
  });

  it("fails as Lambda's runtime does: a non-async handler, an error before any byte, an unfinished stream", async () => {
    const notAsync = await shimFor({ handler: 'streams.notAsync' });
    expect((await notAsync.call('GET', '/')).status).toBe(500);
    await notAsync.line(
      'stderr',
      /Invoke Error \t\{"errorType":"Error","errorMessage":"Streaming does not support non-async handlers."/,
    );
    const early = await shimFor({ handler: 'streams.throwsFirst' });
    expect(await early.call('GET', '/')).toMatchObject({
      status: 500,
      text: '{"message":"Internal Server Error"}',
    });
    expect(JSON.parse((await early.call('POST', '/', '{}', { 'x-kiln-invoke': 'raw' })).text)).toMatchObject({
      errorMessage: 'before any byte',
    });
    // Once bytes are out, the response is cut short: the client sees it fail, not succeed.
    const unfinished = await shimFor({ handler: 'streams.unfinished' });
    await expect(unfinished.call('GET', '/')).rejects.toThrow();
    await unfinished.line('stderr', /"errorMessage":"Response stream is not finished."/);
    expect((await unfinished.call('GET', '/', undefined, { 'x-kiln-health': '1' })).status).toBe(200);
  });
});

describe('x-kiln-* headers', () => {
  it('are never shown to the handler, in either style', async () => {
    const lambda = await shimFor({ handler: 'lam.echo' });
    const headers = {
      'x-kiln-request-id': 'hidden-1',
      'x-kiln-deadline': '1',
      'X-Kiln-Other': 'x',
      'x-kept': 'yes',
    };
    const { event } = JSON.parse((await lambda.call('GET', '/', undefined, headers)).text);
    expect(Object.keys(event.headers).filter((k) => k.startsWith('x-'))).toEqual(['x-kept']);
    await writeFile(
      path.join(dir, 'headers.mjs'),
      'export default { fetch: (r) => Response.json([...r.headers.keys()].filter((k) => k.startsWith("x-"))) };',
    );
    const web = await shimFor({ handler: 'headers.mjs' });
    expect(JSON.parse((await web.call('GET', '/', undefined, headers)).text)).toEqual(['x-kept']);
  });
});
