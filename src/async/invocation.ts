import type { ShimRequest } from '../pool/shim-protocol.js';

/**
 * One async invocation as it is kept on disk (`AsyncStore`) and shown by `GET /async/:id`.
 *   queued     accepted (its request durable), waiting for its turn or for its next retry
 *   running    an attempt is at the function
 *   succeeded  the function answered 1xx–3xx
 *   failed     the function answered 4xx, or the function is gone: not retried
 *   dead       every attempt answered 5xx, timed out or crashed (`asyncRetries` + 1 of them)
 */
export type AsyncState = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';

export const ASYNC_STATES: readonly AsyncState[] = ['queued', 'running', 'succeeded', 'failed', 'dead'];

export function isFinished(state: AsyncState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'dead';
}

export interface AsyncAttempt {
  /** 1 for the first attempt. */
  number: number;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  /** The function version that ran it. */
  version?: number;
  /** The function's answer status, when it answered. */
  status?: number;
  /**
   * Why the attempt failed: without an answer (`timeout`, `function_crashed`,
   * `gateway_restarted`, …), or `function_error` beside a raw invoke's status 200.
   */
  error?: { code: string; message: string };
}

/** A response or request body as JSON holds it: utf-8 text when it is, else base64. */
export interface StoredBody {
  encoding: 'utf8' | 'base64';
  data: string;
}

export interface AsyncResult {
  status: number;
  headers: Record<string, string | string[]>;
  body: StoredBody;
}

export interface AsyncCallback {
  url: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  deliveredAt?: string;
  lastError?: string;
}

export interface AsyncInvocation {
  id: string;
  function: string;
  state: AsyncState;
  createdAt: string;
  updatedAt: string;
  /** When a queued invocation's next attempt may start (after a failed one: the backoff). */
  notBefore?: string;
  finishedAt?: string;
  /** When a finished invocation's record is removed (`asyncRetentionMs` after it finished). */
  expiresAt?: string;
  attempts: AsyncAttempt[];
  /** Attempts made before the last re-drive (`POST /async/:id/retry`): they count against no retry budget. */
  redriveFrom?: number;
  request: { method: string; path: string; headers: Record<string, string | string[]>; body?: StoredBody };
  result?: AsyncResult;
  callback?: AsyncCallback;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function storeBody(bytes: Uint8Array): StoredBody {
  try {
    return { encoding: 'utf8', data: strictUtf8.decode(bytes) };
  } catch {
    return { encoding: 'base64', data: Buffer.from(bytes).toString('base64') };
  }
}

export function bodyBytes(body: StoredBody): Buffer {
  return Buffer.from(body.data, body.encoding === 'utf8' ? 'utf8' : 'base64');
}

export function shimRequestOf(invocation: AsyncInvocation): ShimRequest {
  const { method, path, headers, body } = invocation.request;
  return { method, path, headers: { ...headers }, body: body ? bodyBytes(body) : undefined };
}

/** What `GET /async/:id` answers: the record without the request (it may be large and is the caller's own). */
export function publicView(invocation: AsyncInvocation) {
  const { request, ...rest } = invocation;
  return { ...rest, method: request.method, path: request.path };
}
