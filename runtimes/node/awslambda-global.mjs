// The global `awslambda` Lambda's Node.js runtime defines before a handler's module loads
// (aws-lambda-nodejs-runtime-interface-client, UserFunction.js and HttpResponseStream.js):
// `streamifyResponse(handler, {highWaterMark})` marks a handler as streaming, and
// `HttpResponseStream.from(stream, {statusCode, headers, cookies})` makes its stream start
// with that metadata (a JSON prelude, then 8 NUL bytes). Loaded at boot; the streaming itself
// (lambda-stream.mjs) loads only for a handler that uses it.
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';
export const PRELUDE_TYPE = 'application/vnd.awslambda.http-integration-response';
export const DELIMITER = Buffer.alloc(8);

const HttpResponseStream = {
  from(underlyingStream, prelude) {
    underlyingStream.setContentType(PRELUDE_TYPE);
    // JSON.stringify escapes NUL, so the delimiter cannot occur inside the prelude.
    const metadataPrelude = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadataPrelude);
      write(new Uint8Array(DELIMITER.length));
    };
    return underlyingStream;
  },
};

/** The global Lambda's runtime defines before the handler's module loads. */
export function installAwsLambdaGlobal(env = process.env) {
  const off = env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') return;
  globalThis.awslambda = {
    streamifyResponse(handler, options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') {
        handler[HANDLER_HIGHWATERMARK] = Number.parseInt(options.highWaterMark, 10);
      }
      return handler;
    },
    HttpResponseStream,
  };
}

export function isStreamingHandler(handler) {
  return handler[HANDLER_STREAMING] === STREAM_RESPONSE;
}

export function highWaterMarkOf(handler) {
  const hwm = handler[HANDLER_HIGHWATERMARK];
  return Number.isInteger(hwm) ? hwm : undefined;
}
