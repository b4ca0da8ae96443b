import { describe, expect, it } from 'vitest';
import { KilnError } from '../errors.js';
import { awsErrorAnswer, functionErrorOf, functionRefOf, parseFunctionName } from './lambda-invoke-api.js';

describe('parseFunctionName', () => {
  it.each([
    ['orders', undefined, { name: 'orders' }],
    ['orders:3', undefined, { name: 'orders', qualifier: '3' }],
    ['orders:$LATEST', undefined, { name: 'orders', qualifier: '$LATEST' }],
    ['orders', '3', { name: 'orders', qualifier: '3' }],
    ['orders:3', '3', { name: 'orders', qualifier: '3' }],
    ['arn:aws:lambda:eu-west-1:123456789012:function:orders', undefined, { name: 'orders' }],
    [
      'arn:aws:lambda:eu-west-1:123456789012:function:orders:7',
      undefined,
      { name: 'orders', qualifier: '7' },
    ],
    ['123456789012:function:orders', undefined, { name: 'orders' }],
  ])('%s (Qualifier %s) names %j', (raw, query, expected) => {
    expect(parseFunctionName(raw, query)).toEqual(expected);
  });

  it.each([['orders:1:2'], [':3'], ['orders:'], ['']])('refuses %j', (raw) => {
    expect(() => parseFunctionName(raw)).toThrow(KilnError);
  });

  it('refuses a qualifier that the query contradicts', () => {
    expect(() => parseFunctionName('orders:3', '4')).toThrow(/differ/);
  });
});

describe('functionRefOf', () => {
  it('names the active version for none or $LATEST, else the version or alias', () => {
    expect(functionRefOf({ name: 'o' })).toBe('o');
    expect(functionRefOf({ name: 'o', qualifier: '$LATEST' })).toBe('o');
    expect(functionRefOf({ name: 'o', qualifier: '4' })).toBe('o@4');
    expect(functionRefOf({ name: 'o', qualifier: 'prod' })).toBe('o@prod');
  });
});

describe('awsErrorAnswer', () => {
  it("gives AWS clients the exception type they raise, and Kiln's error beside it", () => {
    const answer = awsErrorAnswer(new KilnError('function_not_found', 'Function not found: arn', 404));
    expect(answer.status).toBe(404);
    expect(answer.headers['x-amzn-errortype']).toBe('ResourceNotFoundException');
    expect(answer.body).toEqual({
      Type: 'User',
      message: 'Function not found: arn',
      error: { code: 'function_not_found', message: 'Function not found: arn' },
    });
  });

  it.each([
    ['queue_full', 429, 'TooManyRequestsException'],
    ['request_too_large', 413, 'RequestTooLargeException'],
    ['invalid_event', 400, 'InvalidRequestContentException'],
    ['async_invoke_unsupported', 400, 'InvalidParameterValueException'],
    ['shutting_down', 503, 'ServiceException'],
  ])('%s (%i) is %s', (code, status, type) => {
    expect(awsErrorAnswer(new KilnError(code, 'm', status)).headers['x-amzn-errortype']).toBe(type);
  });
});

describe('functionErrorOf', () => {
  it("answers a timeout, a crash and the OOM killer as Lambda's function errors", () => {
    expect(functionErrorOf(new KilnError('timeout', 'x', 504), 3000)).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: 'Task timed out after 3.00 seconds',
    });
    expect(functionErrorOf(new KilnError('function_crashed', 'exit code 1', 502), 1)?.errorType).toBe(
      'Runtime.ExitError',
    );
    expect(functionErrorOf(new KilnError('out_of_memory', 'x', 502), 1)?.errorType).toBe(
      'Runtime.OutOfMemory',
    );
    expect(functionErrorOf(new KilnError('queue_full', 'x', 429), 1)).toBeUndefined();
  });
});
