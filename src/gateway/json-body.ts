import type { Context } from 'hono';
import { KilnError } from '../errors.js';

/** Control-plane bodies are small JSON objects (a version number, a spec patch, a secret). */
const MAX_JSON_BYTES = 256 * 1024;

/**
 * The request body as a JSON object; `{}` when there is none. Anything else (not JSON, an
 * array, too big) is a 400 the caller can act on.
 */
export async function readJsonObject(
  c: Context,
  maxBytes = MAX_JSON_BYTES,
): Promise<Record<string, unknown>> {
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const text = await c.req.text();
  if (Buffer.byteLength(text) > maxBytes) throw tooLarge(maxBytes);
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new KilnError('invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new KilnError('invalid_json', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

function tooLarge(maxBytes: number): KilnError {
  return new KilnError('request_too_large', `the body is larger than ${maxBytes / 1024} KiB`, 413);
}
