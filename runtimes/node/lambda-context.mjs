// The `context` a Lambda handler gets, with the fields and types Lambda's Node.js runtime gives
// (AWS, "Using the Lambda context object to retrieve Node.js function information"; the runtime
// interface client's InvokeContext.js): the function's facts come from Lambda's environment
// variables, so they are strings (memoryLimitInMB "128", functionVersion "$LATEST" or "3");
// clientContext is undefined unless an Invoke API call carries one, identity always (no Cognito).
import { ACCOUNT_ID } from './api-gateway.mjs';

/** The per-function part, read once after /init applied the environment. */
export function functionFacts(env, info) {
  const name = env.AWS_LAMBDA_FUNCTION_NAME ?? info.name;
  const version = env.AWS_LAMBDA_FUNCTION_VERSION ?? String(info.version ?? '$LATEST');
  const region = env.AWS_REGION ?? 'us-east-1';
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    functionName: name,
    functionVersion: version,
    invokedFunctionArn: `arn:aws:lambda:${region}:${ACCOUNT_ID}:function:${name}`,
    memoryLimitInMB:
      env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ??
      (info.memoryMb === undefined ? undefined : String(info.memoryMb)),
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${name}`,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME ?? `${day}/[${version}]kiln`,
  };
}

/**
 * The client context of an Invoke API call's `X-Amz-Client-Context` (base64 of a JSON object, AWS
 * Lambda API Reference "Invoke"), as the runtime gives it: the parsed object, or undefined
 * without one. Throws a SyntaxError for one that is not base64 of a JSON object.
 */
export function parseClientContext(header) {
  if (!header) return undefined;
  const parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SyntaxError('not a JSON object');
  }
  return parsed;
}

export function createContext(facts, requestId, deadline, clientContext = undefined) {
  let waitsForEmptyEventLoop = true;
  return {
    // Kept for handlers that set it; the shim answers as soon as the handler settles either way.
    get callbackWaitsForEmptyEventLoop() {
      return waitsForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitsForEmptyEventLoop = value;
    },
    ...facts,
    clientContext,
    identity: undefined,
    awsRequestId: requestId,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}
