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

export function isKilnError(err: unknown): err is KilnError {
  return err instanceof KilnError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
