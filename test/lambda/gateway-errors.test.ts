// Lambda's rules for errors, timeouts, the context and logs, the same in node, python and java,
// through a real gateway and deploy: AWS Lambda API Reference "Invoke" (200 with
// X-Amz-Function-Error and the runtime's error JSON), "Lambda function errors in Node.js /
// Python / Java" (the error JSON and log line of each runtime), "Lambda context object in
// Node.js / Python / Java" (the context's types), and API Gateway's answer to a failed
// integration on an HTTP API (500 {"message":"Internal Server Error"}).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, startTestGateway, type TestGateway } from '../harness.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures/gateway');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIMEOUT_MS = 2000;

const LANGUAGES = [
  {
    runtime: 'node',
    fixture: 'errors-node',
    handler: 'index.handler',
    errorType: 'TypeError',
    // Node.js: Lambda's runtime answers {errorType, errorMessage, trace}.
    traceKey: 'trace',
    // Kiln bundles node code with esbuild: frames name the bundle in the code dir (README).
    traceFile: 'at handler (file:///fn/',
    // A string, as Lambda's Node.js runtime gives it.
    memory: '256',
    /** "Invoke Error" line: `<ISO time>\t<request id>\tERROR\tInvoke Error \t{json}`. */
    errorLine: (id: string) =>
      new RegExp(
        `^\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\t${id}\\tERROR\\tInvoke Error \\t\\{"errorType":"TypeError","errorMessage":"boom over http","stack":\\[`,
      ),
  },
  {
    runtime: 'python',
    fixture: 'errors-python',
    handler: 'app.handler',
    errorType: 'TypeError',
    traceKey: 'stackTrace',
    traceFile: 'app.py',
    memory: '256',
    /** `[ERROR] <type>: <message>` with the traceback, its lines joined with \r. */
    errorLine: () => /^\[ERROR\] TypeError: boom over http\rTraceback \(most recent call last\):/,
  },
  {
    runtime: 'java',
    fixture: 'errors-java',
    handler: 'conformance.Errors',
    errorType: 'java.lang.IllegalStateException',
    traceKey: 'stackTrace',
    traceFile: 'conformance.Errors',
    // An int, as Lambda's Java Context gives it.
    memory: 256,
    /** `<message>: <type>`, then the stack trace. */
    errorLine: () => /^boom over http: java\.lang\.IllegalStateException/,
  },
] as const;

async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

async function logLines(t: TestGateway, name: string, requestId: string): Promise<string[]> {
  const res = await fetch(`${t.url}/functions/${name}/logs?request=${requestId}`);
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { line: string }).line);
}

describe.each(LANGUAGES)(
  "$runtime: Lambda's error, timeout, context and log rules through a deploy",
  (lang) => {
    let t: TestGateway;
    const name = `rules-${lang.runtime}`;
    const invoke = (event: unknown) =>
      fetch(`${t.url}/2015-03-31/functions/${name}/invocations`, {
        method: 'POST',
        body: JSON.stringify(event),
      });

    beforeAll(async () => {
      t = await startTestGateway();
      const res = await deployDir(t.url, path.join(FIXTURES, lang.fixture), {
        name,
        runtime: lang.runtime,
        handler: lang.handler,
        memoryMb: '256',
        timeoutMs: String(TIMEOUT_MS),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    });
    afterAll(() => t?.close());

    it("gives the context Lambda's values with the language's types; the remaining time counts down from timeoutMs", async () => {
      const res = await invoke({});
      expect(res.status).toBe(200);
      const requestId = res.headers.get('x-amz-request-id')!;
      expect(requestId).toMatch(UUID);
      const context = (await res.json()) as Record<string, unknown>;
      expect(context).toEqual({
        remaining: expect.any(Number),
        memory: lang.memory,
        requestId,
        functionName: name,
        functionVersion: '1',
        arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      });
      expect(context.remaining).toBeGreaterThan(0);
      expect(context.remaining).toBeLessThanOrEqual(TIMEOUT_MS);
    });

    it('writes what the handler logs to the function log, under its request id', async () => {
      const res = await invoke({ log: `a line from ${lang.runtime}` });
      const requestId = res.headers.get('x-amz-request-id')!;
      const lines = await eventually(async () => {
        const found = await logLines(t, name, requestId);
        return found.some((l) => l.includes(`a line from ${lang.runtime}`)) ? found : undefined;
      }, 'the log line');
      expect(lines.some((l) => l.includes(`a line from ${lang.runtime}`))).toBe(true);
    });

    it("Invoke API: a throw is 200, X-Amz-Function-Error: Unhandled and the runtime's error JSON; the instance serves on", async () => {
      const res = await invoke({ fail: 'raw' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
      const error = (await res.json()) as Record<string, unknown>;
      expect(error).toMatchObject({ errorType: lang.errorType, errorMessage: 'failed on purpose: raw' });
      const trace = error[lang.traceKey] as string[];
      expect(Array.isArray(trace)).toBe(true);
      expect(trace.join('\n')).toContain(lang.traceFile);
      const instance = res.headers.get('x-kiln-instance');
      const next = await invoke({});
      expect(next.status).toBe(200);
      expect(next.headers.get('x-amz-function-error')).toBeNull();
      expect(next.headers.get('x-kiln-instance')).toBe(instance);
    });

    it("HTTP: a throw is API Gateway's 500, never the exception text; the error in the log in the runtime's shape", async () => {
      const res = await fetch(`${t.url}/fn/${name}/boom`);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ message: 'Internal Server Error' });
      expect(text).not.toContain('boom over http');
      expect(res.headers.get('x-kiln-error')).toBe('handler_error');
      const requestId = res.headers.get('x-kiln-request-id')!;
      const lines = await eventually(async () => {
        const found = await logLines(t, name, requestId);
        return found.some((l) => l.includes('boom over http')) ? found : undefined;
      }, 'the error log line');
      const errorLine = lines.find((l) => l.includes('boom over http'))!;
      expect(errorLine).toMatch(lang.errorLine(requestId));
      const again = await fetch(`${t.url}/fn/${name}/`);
      expect(again.status).toBe(200);
      expect(again.headers.get('x-kiln-instance')).toBe(res.headers.get('x-kiln-instance'));
    });

    it('a handler running past timeoutMs: Invoke API answers Sandbox.Timedout as Lambda does; the next invoke gets a fresh instance', async () => {
      const res = await invoke({ sleepMs: TIMEOUT_MS * 3 });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
      expect(await res.json()).toEqual({
        errorType: 'Sandbox.Timedout',
        errorMessage: `Task timed out after ${(TIMEOUT_MS / 1000).toFixed(2)} seconds`,
      });
      const next = await invoke({});
      expect(next.status).toBe(200);
      expect(next.headers.get('x-kiln-start')).not.toBe('warm');
    });
  },
);
