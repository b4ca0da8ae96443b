import { errorAnswer, KilnError } from '../errors.js';
import { MAX_BUFFERED_RESPONSE_BYTES } from '../pool/instance.js';

/**
 * The parts of Lambda's Invoke API (AWS Lambda API Reference, "Invoke") that are decisions
 * over data: which function a request names, and how an error looks to an AWS client.
 * `routes/lambda-invoke.ts` is the HTTP side.
 */

/**
 * Lambda's synchronous payload cap, for request and response (AWS, "Lambda quotas": 6 MB =
 * 6291456 bytes): the pool's cap on every buffered response, which `forward` enforces.
 */
export const MAX_PAYLOAD_BYTES = MAX_BUFFERED_RESPONSE_BYTES;
/** An `Event` (asynchronous) invoke's payload cap: "for asynchronous invocations, the maximum payload size is 1 MB" (AWS Lambda API Reference, "Invoke"). */
export const MAX_EVENT_PAYLOAD_BYTES = 1_048_576;

export interface FunctionTarget {
  name: string;
  /** A version number, `$LATEST`, or undefined (the active version). */
  qualifier?: string;
}

/**
 * The FunctionName path parameter in every form AWS accepts: `name`, `name:qualifier`,
 * `123456789012:function:name[:qualifier]`, `arn:aws:lambda:region:123456789012:function:name[:qualifier]`;
 * a `?Qualifier=` query parameter also names the version. The account and region of an ARN
 * are not checked: Kiln is one account in one region per function.
 */
export function parseFunctionName(raw: string, queryQualifier?: string): FunctionTarget {
  let rest = raw;
  const arn = /^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:(.+)$/.exec(raw);
  const partial = /^\d{12}:function:(.+)$/.exec(raw);
  if (arn) rest = arn[1]!;
  else if (partial) rest = partial[1]!;
  const [name = '', qualifier, extra] = rest.split(':');
  if (extra !== undefined || name === '' || qualifier === '') {
    throw new KilnError(
      'invalid_parameter',
      `"${raw.slice(0, 200)}" is not a function name, ARN or name:qualifier`,
    );
  }
  if (qualifier !== undefined && queryQualifier !== undefined && qualifier !== queryQualifier) {
    throw new KilnError(
      'invalid_parameter',
      `the function name's qualifier "${qualifier}" and Qualifier "${queryQualifier}" differ`,
    );
  }
  const q = qualifier ?? queryQualifier;
  return q === undefined || q === '' ? { name } : { name, qualifier: q };
}

/**
 * The pool's name for what a qualifier names (functions/function-ref.ts): none or `$LATEST`
 * the active version (AWS's $LATEST is the latest code; Kiln's active version is the latest
 * deploy, or what a rollback chose), a number that version, anything else an alias, as AWS
 * reads `name:7` and `name:prod`. An unknown version or alias is a 404 when it is resolved.
 */
export function functionRefOf(target: FunctionTarget): string {
  const q = target.qualifier;
  if (q === undefined || q === '$LATEST') return target.name;
  return `${target.name}@${q}`;
}

/** The ARN AWS would name the function by (Kiln's account id is all zeros, as in its events). */
export function functionArn(name: string, region: string): string {
  return `arn:aws:lambda:${region}:000000000000:function:${name}`;
}

/** AWS's error types by Kiln's code, where the status alone does not say it. */
const AWS_TYPES: Record<string, string> = {
  function_not_found: 'ResourceNotFoundException',
  unauthorized: 'UnrecognizedClientException',
  invalid_signature: 'InvalidSignatureException',
  invalid_event: 'InvalidRequestContentException',
  request_too_large: 'RequestTooLargeException',
  queue_full: 'TooManyRequestsException',
};

function awsType(code: string, status: number): string {
  if (AWS_TYPES[code]) return AWS_TYPES[code];
  if (status === 404) return 'ResourceNotFoundException';
  if (status === 413) return 'RequestTooLargeException';
  if (status === 429) return 'TooManyRequestsException';
  if (status >= 500) return 'ServiceException';
  return 'InvalidParameterValueException';
}

export interface AwsErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: { Type: 'User' | 'Service'; message: string; error: { code: string; message: string } };
}

/**
 * An error as AWS's REST-JSON services send one, so that the AWS CLI and SDKs raise the right
 * exception (they read `x-amzn-ErrorType` and the body's `message`), with Kiln's own
 * `{error: {code, message}}` in the same body for everything else that reads Kiln's errors.
 */
export function awsErrorAnswer(err: unknown): AwsErrorAnswer {
  const answer = errorAnswer(err);
  const { code, message } = answer.body.error;
  return {
    status: answer.status,
    headers: { ...answer.headers, 'x-amzn-errortype': awsType(code, answer.status) },
    body: { Type: answer.status >= 500 ? 'Service' : 'User', message, error: answer.body.error },
  };
}

/** Pool errors that are the function's failure, which Lambda answers as a function error (200, Unhandled). */
export function functionErrorOf(
  err: unknown,
  timeoutMs: number,
): { errorType: string; errorMessage: string } | undefined {
  if (!(err instanceof KilnError)) return undefined;
  switch (err.code) {
    case 'timeout':
      // Lambda's own words for it (Runtime API: "Task timed out after 3.00 seconds").
      return {
        errorType: 'Sandbox.Timedout',
        errorMessage: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
      };
    case 'out_of_memory':
      return { errorType: 'Runtime.OutOfMemory', errorMessage: `Runtime exited with error: ${err.message}` };
    case 'response_too_large':
      // Lambda's words for it (Invoke API, "Function.ResponseSizeTooLarge").
      return {
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_PAYLOAD_BYTES} bytes).`,
      };
    case 'function_crashed':
      return { errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: ${err.message}` };
    default:
      return undefined;
  }
}
