import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BearerCheck, unauthorized } from '../../auth/bearer.js';
import { isSigV4, verifySigV4 } from '../../auth/sigv4.js';
import { KilnError } from '../../errors.js';
import type { Kiln } from '../../kiln.js';
import type { InvokeTelemetry } from '../../telemetry/telemetry.js';
import { invokeTraced, type TracedInvocation } from '../../traced-invoke.js';
import {
  awsErrorAnswer,
  functionErrorOf,
  functionRefOf,
  MAX_EVENT_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES,
  parseFunctionName,
} from '../lambda-invoke-api.js';
import type { RouteContext } from './route-context.js';

/**
 * Lambda's Invoke API, `POST /2015-03-31/functions/:name/invocations` (AWS Lambda API
 * Reference, "Invoke"): the body is the event, the answer the handler's raw result, so that
 * `aws lambda invoke --endpoint-url` and the AWS SDKs call Kiln functions. Buffered (Lambda
 * caps synchronous payloads at 6 MB), through the pool like any request.
 *
 * Auth: like AWS, which needs IAM credentials for Invoke, it needs the control token when the
 * gateway has one, whatever the function's `auth`: a raw event can claim anything an HTTP
 * request cannot (an authorizer's claims, another source IP), so it is the operator's call,
 * not an invoker's. It is taken as `Authorization: Bearer <token>` or as an AWS Signature V4
 * made with the token as the secret access key (any access key id).
 */
export function register({ app, kiln, token }: RouteContext): void {
  const bearer = token === undefined ? undefined : new BearerCheck(token);

  // Each invoke's span, phases (Server-Timing), metrics and log line, as a proxied invoke's.
  const traces = new WeakMap<Request, { trace: InvokeTelemetry; errorCode?: string }>();
  app.use('/2015-03-31/functions/:name/invocations', async (c, next) => {
    const trace = kiln.telemetry.invoke(
      c.req.param('name'),
      randomUUID(),
      'POST',
      c.req.path,
      c.req.header(),
    );
    const state: { trace: InvokeTelemetry; errorCode?: string } = { trace };
    traces.set(c.req.raw, state);
    await next();
    trace.finish(c.res.status, state.errorCode);
  });

  app.post('/2015-03-31/functions/:name/invocations', async (c) => {
    const traced = traces.get(c.req.raw)!;
    const { trace } = traced;
    try {
      const authorization = c.req.header('authorization');
      const signed = isSigV4(authorization);
      // A Bearer token is checked before the body is read; a signature covers the body.
      if (bearer && !signed && !bearer.accepts(authorization)) throw unauthorized("Lambda's Invoke API");
      const body = await readPayload(c);
      if (token !== undefined && signed) checkSignature(c, token, body);
      const target = parseFunctionName(c.req.param('name'), c.req.query('Qualifier'));
      trace.named(target.name);
      const ref = functionRefOf(target);
      // An unknown function, version or alias is a 404 (ResourceNotFoundException) here.
      const named = kiln.functions.resolve(ref);
      const type = c.req.header('x-amz-invocation-type') ?? 'RequestResponse';
      if (type === 'DryRun') return c.body(null, 204, { 'x-amz-executed-version': String(named.version) });
      if (type === 'Event') {
        if (named.version !== kiln.functions.active(target.name).version)
          throw new KilnError(
            'invalid_parameter',
            `InvocationType Event runs the active version only (Kiln's async invocations follow it); "${target.qualifier}" names version ${named.version}: invoke it with RequestResponse`,
          );
        return await submitEvent(c, kiln, target.name, body);
      }
      if (type !== 'RequestResponse') {
        throw new KilnError(
          'invalid_parameter',
          `InvocationType must be RequestResponse, Event or DryRun, got "${type.slice(0, 50)}"`,
        );
      }
      checkJson(body);
      const requestId = trace.requestId;
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-kiln-invoke': 'raw',
        'x-kiln-request-id': requestId,
      };
      const clientContext = c.req.header('x-amz-client-context');
      if (clientContext) headers['x-amz-client-context'] = clientContext;
      const ids = { 'x-amz-request-id': requestId, 'x-amzn-requestid': requestId };
      let result: TracedInvocation;
      try {
        result = await invokeTraced(kiln.pool, trace, ref, { method: 'POST', path: '/', headers, body });
      } catch (err) {
        traced.errorCode = err instanceof KilnError ? err.code : 'internal_error';
        const failure = functionErrorOf(err, named.spec.timeoutMs);
        if (!failure) throw err;
        return c.json(failure, 200, { ...ids, 'x-amz-function-error': 'Unhandled' });
      }
      const response = result.response;
      const kilnHeaders = {
        ...ids,
        'x-amz-executed-version': String(result.version),
        'x-kiln-start': result.start,
        'x-kiln-instance': result.instanceId,
        'x-kiln-version': String(result.version),
        'server-timing': trace.serverTiming(),
      };
      if (response.status !== 200) {
        // The shim refused the invoke itself (a fetch-style handler takes no raw events).
        return c.body(new Uint8Array(response.body), response.status as ContentfulStatusCode, {
          ...kilnHeaders,
          'content-type': 'application/json',
          'x-amzn-errortype': 'InvalidParameterValueException',
        });
      }
      const functionError = response.headers['x-kiln-function-error'];
      return c.body(new Uint8Array(response.body), 200, {
        ...kilnHeaders,
        'content-type': 'application/json',
        ...(typeof functionError === 'string' ? { 'x-amz-function-error': functionError } : {}),
      });
    } catch (err) {
      traced.errorCode ??= err instanceof KilnError ? err.code : 'internal_error';
      const answer = awsErrorAnswer(err);
      return c.json(answer.body, answer.status as ContentfulStatusCode, answer.headers);
    }
  });
}

/**
 * `X-Amz-Invocation-Type: Event`: the event is stored as an async invocation (durable before
 * the answer, retried on function errors, dead-lettered: src/async) and Lambda's answer is
 * 202 with no body; its request id is the invocation id, so `GET /async/<id>` shows how it
 * went and the handler's `awsRequestId` is that id on every attempt.
 */
async function submitEvent(c: Context, kiln: Kiln, name: string, body: Buffer): Promise<Response> {
  if (body.length > MAX_EVENT_PAYLOAD_BYTES)
    throw new KilnError(
      'request_too_large',
      `Request must be smaller than ${MAX_EVENT_PAYLOAD_BYTES} bytes for an asynchronous (Event) invoke`,
      413,
    );
  checkJson(body);
  // Lambda passes ClientContext to synchronous invokes only (API Reference, "Invoke").
  const headers = { 'content-type': 'application/json', 'x-kiln-invoke': 'raw' };
  const inv = await kiln.asyncInvoker.submit(name, { method: 'POST', path: '/', headers, body });
  return c.body(null, 202, {
    'x-amz-request-id': inv.id,
    'x-amzn-requestid': inv.id,
    'x-kiln-invocation-id': inv.id,
    location: `/async/${inv.id}`,
  });
}

/** The body, refused past Lambda's 6 MB with AWS's RequestTooLargeException. */
async function readPayload(c: Context): Promise<Buffer> {
  const tooLarge = () =>
    new KilnError(
      'request_too_large',
      `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
      413,
    );
  const declared = Number(c.req.header('content-length'));
  if (declared > MAX_PAYLOAD_BYTES) throw tooLarge();
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > MAX_PAYLOAD_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function checkSignature(c: Context, token: string, body: Buffer): void {
  const url = new URL(c.req.url);
  const headers: Record<string, string | undefined> = {};
  c.req.raw.headers.forEach((value, key) => {
    headers[key] = value;
  });
  if (verifySigV4({ method: c.req.method, target: url.pathname + url.search, headers, body }, token)) return;
  throw new KilnError(
    'invalid_signature',
    "the request's AWS signature does not match: sign it with the gateway's control token as the secret access key (AWS_SECRET_ACCESS_KEY), and a clock within 15 minutes of the gateway's",
    403,
  );
}

function checkJson(body: Buffer): void {
  if (body.length === 0) return;
  try {
    JSON.parse(body.toString('utf8'));
  } catch {
    throw new KilnError('invalid_event', 'Could not parse request body into json: the event must be JSON');
  }
}
