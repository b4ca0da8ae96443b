// Lambda's Invoke API and the HTTP error answer through a real gateway and deploy (AWS Lambda API
// Reference, "Invoke"; "Lambda function errors in Python"): the raw round trip, function errors,
// AWS's error shapes for a client, the control token as Bearer or as an AWS signature (the
// real AWS CLI signs), `kiln invoke --event`, and a bundle that holds only `src/`.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDir } from '../../src/build/pack-dir.js';
import { findOnPath } from '../../src/find-on-path.js';
import { deployDir, ROOT, startTestGateway, type TestGateway } from '../harness.js';

const execFileP = promisify(execFile);
const FIXTURE = path.join(import.meta.dirname, 'fixtures/gateway/src-only-python');
const NAME = 'raw-py';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function invokeUrl(t: TestGateway, name: string): string {
  return `${t.url}/2015-03-31/functions/${name}/invocations`;
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

interface AsyncView {
  state: string;
  attempts: { status?: number; error?: { code: string } }[];
  result?: { body: { data: string } };
}

/** An async invocation once it is finished (a condition wait). */
async function finished(t: TestGateway, id: string): Promise<AsyncView> {
  return eventually(async () => {
    const view = (await (await fetch(`${t.url}/async/${id}`)).json()) as AsyncView;
    return ['succeeded', 'failed', 'dead'].includes(view.state) ? view : undefined;
  }, `invocation ${id} finished`);
}

async function logLines(t: TestGateway, name: string, requestId: string): Promise<string[]> {
  const res = await fetch(`${t.url}/functions/${name}/logs?request=${requestId}`);
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { line: string }).line);
}

describe("Lambda's Invoke API, without a control token", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
    const res = await deployDir(t.url, FIXTURE, {
      name: NAME,
      runtime: 'python',
      handler: 'src/app.handler',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
  afterAll(() => t?.close());

  it("answers the handler's raw result with the executed version and a request id", async () => {
    const res = await fetch(invokeUrl(t, NAME), {
      method: 'POST',
      body: JSON.stringify({ order: 7, items: [1, 2] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-executed-version')).toBe('1');
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    const requestId = res.headers.get('x-amz-request-id');
    expect(requestId).toMatch(UUID);
    expect(res.headers.get('x-amzn-requestid')).toBe(requestId);
    expect(await res.json()).toEqual({
      echo: { order: 7, items: [1, 2] },
      function: NAME,
      version: '1',
      memory: '128',
      requestId,
    });
  });

  it('takes any JSON value as the event, and an empty body as {}', async () => {
    const list = await fetch(invokeUrl(t, NAME), { method: 'POST', body: '[1,"two",null]' });
    expect(((await list.json()) as { echo: unknown }).echo).toEqual([1, 'two', null]);
    const empty = await fetch(invokeUrl(t, NAME), { method: 'POST' });
    expect(((await empty.json()) as { echo: unknown }).echo).toEqual({});
  });

  it("answers a handler's exception as 200 with X-Amz-Function-Error and Lambda's error JSON, logged as [ERROR]", async () => {
    const res = await fetch(invokeUrl(t, NAME), { method: 'POST', body: '{"fail":"raw"}' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    const error = (await res.json()) as { errorMessage: string; errorType: string; stackTrace: string[] };
    expect(error.errorMessage).toBe('failed on purpose: raw');
    expect(error.errorType).toBe('ValueError');
    expect(Array.isArray(error.stackTrace)).toBe(true);
    expect(error.stackTrace.join('\n')).toContain('app.py');
    const requestId = res.headers.get('x-amz-request-id')!;
    const lines = await eventually(async () => {
      const found = await logLines(t, NAME, requestId);
      return found.some((l) => l.includes('[ERROR]')) ? found : undefined;
    }, 'the [ERROR] log line');
    expect(lines.join('\n')).toContain('failed on purpose: raw');
    // The instance keeps serving.
    expect((await fetch(invokeUrl(t, NAME), { method: 'POST', body: '{}' })).status).toBe(200);
  });

  it('answers an HTTP request whose handler throws as API Gateway does, the error only in the logs', async () => {
    const res = await fetch(`${t.url}/fn/${NAME}/boom`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'Internal Server Error' });
    expect(res.headers.get('x-kiln-error')).toBe('handler_error');
    const requestId = res.headers.get('x-kiln-request-id')!;
    const lines = await eventually(async () => {
      const found = await logLines(t, NAME, requestId);
      return found.some((l) => l.includes('[ERROR]')) ? found : undefined;
    }, 'the [ERROR] log line');
    expect(lines.join('\n')).toContain('RuntimeError');
    expect(lines.join('\n')).toContain('boom over http');
  });

  it('serves a bundle of only src/ with the handler string src/app.handler, as AWS does', async () => {
    const res = await fetch(`${t.url}/fn/${NAME}/from/src?x=1`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { rawPath: string }).rawPath).toBe('/from/src');
  });

  it("answers errors in AWS's shape, so that AWS clients raise the right exception", async () => {
    const missing = await fetch(invokeUrl(t, 'nobody'), { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    const body = (await missing.json()) as { message: string; error: { code: string } };
    expect(body.message).toContain('nobody');
    expect(body.error.code).toBe('function_not_found');

    const notJson = await fetch(invokeUrl(t, NAME), { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');

    const big = await fetch(invokeUrl(t, NAME), { method: 'POST', body: `"${'x'.repeat(6_291_456)}"` });
    expect(big.status).toBe(413);
    expect(big.headers.get('x-amzn-errortype')).toBe('RequestTooLargeException');

    const noVersion = await fetch(`${invokeUrl(t, `${NAME}:9`)}`, { method: 'POST', body: '{}' });
    expect(noVersion.status).toBe(404);
    expect(noVersion.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    const latest = await fetch(`${invokeUrl(t, NAME)}?Qualifier=%24LATEST`, { method: 'POST', body: '{}' });
    expect(latest.status).toBe(200);
    const byArn = await fetch(
      invokeUrl(t, encodeURIComponent(`arn:aws:lambda:us-east-1:000000000000:function:${NAME}`)),
      {
        method: 'POST',
        body: '{}',
      },
    );
    expect(byArn.status).toBe(200);
  });

  it('a Qualifier names a version or an alias, as name:qualifier, ?Qualifier= or an ARN; $LATEST the active one', async () => {
    const name = 'raw-versions';
    expect(
      (await deployDir(t.url, FIXTURE, { name, runtime: 'python', handler: 'src/app.handler' })).status,
    ).toBe(201);
    const patched = await fetch(`${t.url}/functions/${name}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ memoryMb: 192 }),
    });
    expect(patched.status, await patched.text()).toBeLessThan(300);
    const aliased = await fetch(`${t.url}/functions/${name}/aliases/old`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: 1 }),
    });
    expect(aliased.status).toBe(200);
    const ran = async (fn: string, query = '') => {
      const res = await fetch(`${invokeUrl(t, encodeURIComponent(fn))}${query}`, {
        method: 'POST',
        body: '{}',
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { version: string; memory: string };
      expect(res.headers.get('x-amz-executed-version')).toBe(body.version);
      return `${body.version}/${body.memory}`;
    };
    expect(await ran(name)).toBe('2/192');
    expect(await ran(`${name}:$LATEST`)).toBe('2/192');
    expect(await ran(`${name}:1`)).toBe('1/128');
    expect(await ran(name, '?Qualifier=old')).toBe('1/128');
    expect(await ran(`arn:aws:lambda:us-east-1:000000000000:function:${name}:old`)).toBe('1/128');
    const noAlias = await fetch(invokeUrl(t, `${name}:nope`), { method: 'POST', body: '{}' });
    expect(noAlias.status).toBe(404);
    expect(noAlias.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    const dry = await fetch(invokeUrl(t, `${name}:old`), {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'DryRun' },
    });
    expect(dry.status).toBe(204);
    expect(dry.headers.get('x-amz-executed-version')).toBe('1');
    // Kiln's async invocations run the active version: an Event for another one is refused.
    const event = await fetch(invokeUrl(t, `${name}:1`), {
      method: 'POST',
      body: '{}',
      headers: { 'x-amz-invocation-type': 'Event' },
    });
    expect(event.status).toBe(400);
    expect(((await event.json()) as { message: string }).message).toContain('active version');
  });

  it('answers DryRun with 204 and nothing run', async () => {
    const dry = await fetch(invokeUrl(t, NAME), {
      method: 'POST',
      body: '{}',
      headers: { 'x-amz-invocation-type': 'DryRun' },
    });
    expect(dry.status).toBe(204);
  });

  it('queues an Event invoke: 202 with its request id, then the result under /async/<id>', async () => {
    const event = (body: string) =>
      fetch(invokeUrl(t, NAME), { method: 'POST', body, headers: { 'x-amz-invocation-type': 'Event' } });
    const res = await event('{"order":8}');
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    const id = res.headers.get('x-amz-request-id')!;
    expect(id).toMatch(UUID);
    expect(res.headers.get('location')).toBe(`/async/${id}`);
    const done = await finished(t, id);
    expect(done.state).toBe('succeeded');
    // The handler's awsRequestId is the invocation id.
    expect(JSON.parse(done.result!.body.data)).toMatchObject({
      echo: { order: 8 },
      function: NAME,
      requestId: id,
    });

    // A handler that raises is retried (asyncRetries, default 2), then dead: as Lambda retries Event invokes.
    const failing = await event('{"fail":"async"}');
    expect(failing.status).toBe(202);
    const dead = await finished(t, failing.headers.get('x-amz-request-id')!);
    expect(dead.state).toBe('dead');
    expect(dead.attempts.map((a) => `${a.status} ${a.error?.code}`)).toEqual(
      Array(3).fill('200 function_error'),
    );
    expect(JSON.parse(dead.result!.body.data)).toMatchObject({ errorMessage: 'failed on purpose: async' });

    const notJson = await event('{nope');
    expect(notJson.status).toBe(400);
    const tooLarge = await event(JSON.stringify({ pad: 'x'.repeat(1_048_576) }));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('x-amzn-errortype')).toBe('RequestTooLargeException');
  });
});

describe("Lambda's Invoke API with a control token", () => {
  const token = `t-${randomBytes(24).toString('base64url')}`;
  let t: TestGateway;
  let work: string;
  beforeAll(async () => {
    t = await startTestGateway({ token });
    work = await mkdtemp(path.join(tmpdir(), 'kiln-invoke-'));
    const res = await fetch(
      `${t.url}/functions?${new URLSearchParams({ name: NAME, runtime: 'python', handler: 'src/app.handler' })}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/gzip', authorization: `Bearer ${token}` },
        body: (await packDir(FIXTURE)) as unknown as BodyInit,
      },
    );
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('needs the token, as AWS needs credentials', async () => {
    const none = await fetch(invokeUrl(t, NAME), { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
    expect(none.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
    const wrong = await fetch(invokeUrl(t, NAME), {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${token}x` },
    });
    expect(wrong.status).toBe(401);
    const right = await fetch(invokeUrl(t, NAME), {
      method: 'POST',
      body: '{"a":1}',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(right.status).toBe(200);
  });

  it('takes the AWS CLI signing with the token as its secret key, and refuses another secret', async () => {
    const aws = await findOnPath('aws');
    expect(aws, 'the AWS CLI (scripts/setup-host.sh installs awscli)').toBeDefined();
    const out = path.join(work, 'out.json');
    const payload = path.join(work, 'payload.json');
    await writeFile(payload, '{"from":"aws"}');
    const run = (secret: string, ...extra: string[]) =>
      execFileP(
        aws!,
        [
          'lambda',
          'invoke',
          ...extra,
          '--endpoint-url',
          t.url,
          '--function-name',
          NAME,
          // fileb:// is the raw bytes in AWS CLI v1 and v2 alike.
          '--payload',
          `fileb://${payload}`,
          out,
        ],
        {
          env: {
            PATH: process.env.PATH,
            HOME: work,
            AWS_ACCESS_KEY_ID: 'kiln',
            AWS_SECRET_ACCESS_KEY: secret,
            AWS_DEFAULT_REGION: 'us-east-1',
            AWS_EC2_METADATA_DISABLED: 'true',
            AWS_PAGER: '',
          },
        },
      );
    const { stdout } = await run(token);
    expect(JSON.parse(stdout)).toMatchObject({ StatusCode: 200, ExecutedVersion: '1' });
    expect(JSON.parse(await readFile(out, 'utf8'))).toMatchObject({ echo: { from: 'aws' }, function: NAME });
    const refused = await run(`${token}x`).then(
      () => undefined,
      (err: { stderr: string }) => err.stderr,
    );
    expect(refused).toContain('InvalidSignatureException');
    // --invocation-type Event: queued, 202, the request id is the async invocation's.
    const queued = await run(token, '--invocation-type', 'Event', '--debug');
    expect(JSON.parse(queued.stdout)).toEqual({ StatusCode: 202 });
    const id = /x-amz-request-id['"]?: ['"]?([0-9a-f-]{36})/i.exec(queued.stderr)?.[1];
    expect(id, 'the request id in the AWS CLI debug log').toMatch(UUID);
    expect(await finished(t, id!)).toMatchObject({ state: 'succeeded' });
  });

  it('kiln invoke --event prints the raw result, reads - as stdin, and exits 1 on a function error', async () => {
    const cli = path.join(ROOT, 'dist/cli/main.js');
    const env = { ...process.env, KILN_URL: t.url, KILN_TOKEN: token };
    const eventFile = path.join(work, 'event.json');
    await writeFile(eventFile, '{"from":"file"}');
    const fromFile = await execFileP(process.execPath, [cli, 'invoke', NAME, '--event', eventFile], { env });
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ echo: { from: 'file' } });

    const run = (input: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [cli, 'invoke', NAME, '--event', '-'], { env });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(input);
      });
    const queued = await execFileP(process.execPath, [cli, 'invoke', NAME, '--event', eventFile, '--async'], {
      env,
    });
    const id = queued.stdout.trim();
    expect(id).toMatch(UUID);
    expect(JSON.parse((await finished(t, id)).result!.body.data)).toMatchObject({ echo: { from: 'file' } });
    const fromStdin = await run('{"from":"stdin"}');
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ echo: { from: 'stdin' } });
    const failed = await run('{"fail":"cli"}');
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({
      errorType: 'ValueError',
      errorMessage: 'failed on purpose: cli',
    });
    expect(failed.stderr).toContain('Unhandled');

    const missing = await run('{}').then(() =>
      execFileP(process.execPath, [cli, 'invoke', 'nobody', '--event', eventFile], { env }).then(
        () => 0,
        (err: { code: number }) => err.code,
      ),
    );
    expect(missing).not.toBe(0);
  });
});
