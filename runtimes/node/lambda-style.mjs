// Lambda-style handlers, `handler(event, context)` (async, or answering through the callback or
// context.succeed/fail/done as Lambda's older form does): in HTTP mode fed the API Gateway
// event of the function's payload format and answered by that format's result rules; in raw
// mode (Invoke API) fed the JSON body and answered with the result as JSON.

import { logError } from './lambda-console.mjs';
import { createContext, functionFacts, parseClientContext } from './lambda-context.mjs';
import { invokeErrorBody } from './lambda-errors.mjs';
import { shimError } from './respond.mjs';

/**
 * The handler's outcome: the first of its returned promise, its callback, or
 * context.succeed/fail/done (Lambda's runtime takes the first and ignores the rest).
 * Kiln difference: a plain (non-async, two-argument) handler's return value is its result;
 * Lambda ignores it and answers null.
 */
export function callHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.done = done;
    context.succeed = (result) => done(null, result);
    context.fail = (err) => done(err ?? 'handled');
    let ret;
    try {
      ret = handler(event, context, done);
    } catch (err) {
      done(err ?? 'handled');
      return;
    }
    if (ret && typeof ret.then === 'function') ret.then(context.succeed, context.fail);
    else if (handler.length < 3) done(null, ret);
  });
}

/** Parse a raw invoke's body: any JSON value; an empty body is `{}` as in the Invoke API. */
export function rawEvent(req, res) {
  if (!req.body.length) return { event: {} };
  try {
    return { event: JSON.parse(req.body.toString('utf8')) };
  } catch (err) {
    shimError(res, 400, 'invalid_event', `the event is not JSON: ${err.message}`);
    return undefined;
  }
}

/** Lambda's answer for a function error: 200, X-Amz-Function-Error's value, the error JSON. */
export function answerFunctionError(res, err) {
  logError('Invoke Error', err);
  res
    .writeHead(200, { 'content-type': 'application/json', 'x-kiln-function-error': 'Unhandled' })
    .end(JSON.stringify(invokeErrorBody(err)));
}

export function lambdaInvoker(handler, { format, info }) {
  // Read once: /init applied Lambda's environment before the handler loaded.
  const facts = functionFacts(process.env, info);
  return {
    async http(req, res, call) {
      const event = format.buildEvent(req, call.requestId);
      const context = createContext(facts, call.requestId, call.deadline);
      const result = await callHandler(handler, event, context);
      const { status, headers, body } = format.toHttpResponse(result);
      res.writeHead(status, headers).end(body);
    },

    async raw(req, res, call) {
      const parsed = rawEvent(req, res);
      if (!parsed) return;
      let clientContext;
      try {
        clientContext = parseClientContext(req.headers['x-amz-client-context']);
      } catch (err) {
        shimError(
          res,
          400,
          'invalid_request_content',
          `X-Amz-Client-Context must be a base64-encoded JSON object: ${err.message}`,
        );
        return;
      }
      const context = createContext(facts, call.requestId, call.deadline, clientContext);
      let body;
      try {
        body = JSON.stringify(await callHandler(handler, parsed.event, context)) ?? 'null';
      } catch (err) {
        answerFunctionError(res, err);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    },
  };
}
