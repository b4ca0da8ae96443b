/**
 * The one error type Kiln raises on purpose. `code` is stable snake_case that scripts
 * can match on; `message` tells a person what to do; `status` is the HTTP status the
 * gateway answers with (the CLI prints the message and exits non-zero).
 */
export class KilnError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Extra response headers, e.g. `Retry-After` on a 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'KilnError';
  }

  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export interface ErrorAnswer {
  status: number;
  body: { error: { code: string; message: string } };
  headers: Record<string, string>;
}

/**
 * What any HTTP surface answers for an error: a KilnError as itself, anything else as a
 * 500 `internal_error` (logged, since it is a bug rather than bad input).
 */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof KilnError) return { status: err.status, body: err.toJSON(), headers: err.headers };
  console.error('kiln: internal error:', err);
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: { error: { code: 'internal_error', message } }, headers: {} };
}
