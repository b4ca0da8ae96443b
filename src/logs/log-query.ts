import { KilnError } from '../errors.js';
import type { LogQuery } from './log-store.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:ms|s|m|h|d))+$/;

/**
 * `since` as users write it (docker logs' forms): epoch milliseconds (`1700000000000`), an
 * ISO 8601 time (`2024-03-12T19:03:58Z`), or a duration back from `now` (`10m`, `1h30m`,
 * `45s`, `2d`). Returns epoch ms.
 */
export function parseSince(raw: string, now = Date.now()): number {
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (DURATION.test(text)) {
    let ms = 0;
    for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(n) * UNIT_MS[unit!]!;
    return now - ms;
  }
  const parsed = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(parsed)) {
    throw new KilnError(
      'invalid_since',
      `since "${raw}" is not a time: use epoch milliseconds, an ISO time (2024-03-12T19:03:58Z) or a duration (10m, 1h30m)`,
    );
  }
  return parsed;
}

/** A log query from an API request's query parameters (each optional). */
export function parseLogQuery(
  params: { since?: string; tail?: string; request?: string },
  now = Date.now(),
): LogQuery {
  const q: LogQuery = {};
  if (params.since) q.since = parseSince(params.since, now);
  if (params.tail !== undefined && params.tail !== '') {
    const tail = Number(params.tail);
    if (!Number.isInteger(tail) || tail < 0 || tail > 1_000_000)
      throw new KilnError('invalid_tail', `tail "${params.tail}" must be a whole number from 0 to 1000000`);
    q.tail = tail;
  }
  if (params.request) {
    if (params.request.length > 128)
      throw new KilnError('invalid_request_id', 'a request id has at most 128 characters');
    q.requestId = params.request;
  }
  return q;
}
