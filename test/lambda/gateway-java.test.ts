// Java handlers written for AWS Lambda (aws-lambda-java-core) deployed unmodified through a real
// gateway: sources compiled at deploy in the java builder against the shim's Lambda API, each
// handler form called through Lambda's Invoke API (AWS, "Define Lambda function handler in
// Java"). The same fixtures as java.test.ts, which checks the shim's rules in depth.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, startTestGateway, type TestGateway } from '../harness.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures/java');

/** Handler strings of the fixture bundle, one function each (a function has one handler). */
const HANDLERS = {
  pojo: 'conformance.pojo.OrderHandler',
  record: 'conformance.records.PointHandler',
  string: 'conformance.strings.Upper',
  immutable: 'conformance.immutable.Immutable',
  stream: 'conformance.streams.Reverse',
  method: 'com.example.other.Greeter::greet',
  logger: 'conformance.logging.Logs',
} as const;

describe('Java Lambda handlers deployed unmodified', () => {
  let t: TestGateway;
  const invoke = async (kind: keyof typeof HANDLERS, event: string) => {
    const res = await fetch(`${t.url}/2015-03-31/functions/java-${kind}/invocations`, {
      method: 'POST',
      body: event,
    });
    expect(res.status).toBe(200);
    return res;
  };

  beforeAll(async () => {
    t = await startTestGateway();
    for (const [kind, handler] of Object.entries(HANDLERS)) {
      const res = await deployDir(t.url, FIXTURES, { name: `java-${kind}`, runtime: 'java', handler });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  }, 300_000);
  afterAll(() => t?.close());

  it('RequestHandler<POJO, POJO>: setters and fields in (unknown ones ignored), getters out, nulls left out', async () => {
    const res = await invoke(
      'pojo',
      JSON.stringify({
        id: 'o1',
        gift: true,
        lines: [{ name: 'tea', price: 2.5, qty: 2, color: 'x' }],
        unknown: 1,
      }),
    );
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(await res.json()).toMatchObject({
      orderId: 'o1',
      total: 5,
      gift: true,
      URL: 'https://example.com/o1',
      lines: [{ name: 'tea', price: 2.5, qty: 2 }],
    });
  });

  it('RequestHandler<record, record>', async () => {
    const res = await invoke('record', '{"name":"p","x":1,"y":"2","tags":"solo"}');
    expect(await res.json()).toEqual({
      from: { name: 'p', x: 1, y: 2, tags: ['solo'] },
      to: { name: 'p', x: 2, y: 3, tags: ['moved'] },
    });
  });

  it('RequestHandler<String, String>; an event that cannot become a String is a function error', async () => {
    expect(await (await invoke('string', '"hello"')).text()).toBe('"HELLO"');
    const bad = await invoke('string', '{"not":"a string"}');
    expect(bad.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await bad.json()).toMatchObject({ errorMessage: 'An error occurred during JSON parsing' });
  });

  it('immutable maps and lists out', async () => {
    expect(await (await invoke('immutable', '{}')).json()).toEqual({
      statusCode: 200,
      body: { list: [1, 2, 3], nested: { ok: true } },
    });
  });

  it('RequestStreamHandler: the event bytes in, the output bytes out', async () => {
    expect(await (await invoke('stream', '[1,"ab"]')).text()).toBe(']"ba",1[');
  });

  it('package.Class::method, the package unlike the directory', async () => {
    expect(await (await invoke('method', '{"name":"Duke"}')).text()).toBe(
      '"hi from com.example.other.Greeter to Duke"',
    );
  });

  it("a function's own CustomPojoSerializer (META-INF/services in a Maven layout's resources) reads events and writes results", async () => {
    const deployed = await deployDir(
      t.url,
      path.join(import.meta.dirname, 'fixtures/gateway/serializer-java'),
      {
        name: 'java-serializer',
        runtime: 'java',
        handler: 'example.Shout',
      },
    );
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    const res = await fetch(`${t.url}/2015-03-31/functions/java-serializer/invocations`, {
      method: 'POST',
      body: '{"say":"hi"}',
    });
    expect(await res.json()).toEqual({
      serializer: 'PlainSerializer',
      type: 'example.Shout$Message',
      text: '{"SAY":"HI"}',
    });
  });

  it("Context.getLogger().log reaches the function's logs under the request id", async () => {
    const res = await invoke('logger', '{}');
    const requestId = res.headers.get('x-amz-request-id')!;
    let lines: string[] = [];
    for (let i = 0; i < 200 && !lines.includes(`plain message ${requestId}`); i++) {
      if (i) await new Promise((r) => setTimeout(r, 50));
      const logs = await fetch(`${t.url}/functions/java-logger/logs?request=${requestId}`);
      lines = (await logs.text())
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { line: string }).line);
    }
    expect(lines).toEqual(expect.arrayContaining([`plain message ${requestId}`, 'from LambdaRuntime']));
  });
});
