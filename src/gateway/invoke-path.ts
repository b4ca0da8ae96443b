import { KilnError } from '../errors.js';

export const INVOKE_PREFIX = '/fn/';

export interface InvokeTarget {
  /** The function's name, percent-decoded. */
  name: string;
  /** Path and query as the function sees them: what follows the name, at least `/`. */
  rest: string;
}

/** A `%` not followed by two hex digits (RFC 3986 §2.1): no client or server can read it. */
const BAD_ESCAPE = /%(?![0-9a-fA-F]{2})/;

/**
 * `/fn/<name>[/<rest>][?query]` → the function's name and the path it sees. A malformed
 * escape anywhere in the path, or a name that is not UTF-8 once decoded, is the client's
 * error (400 `invalid_path`), never a 500 (issue 9: `/fn/%E0%A4%A/` answered 500).
 */
export function parseInvokePath(url: string): InvokeTarget {
  const tail = url.slice(INVOKE_PREFIX.length);
  const nameEnd = tail.search(/[/?]/);
  const rawName = nameEnd < 0 ? tail : tail.slice(0, nameEnd);
  let rest = nameEnd < 0 ? '/' : tail.slice(nameEnd);
  if (!rest.startsWith('/')) rest = `/${rest}`;
  const query = rest.indexOf('?');
  if (BAD_ESCAPE.test(rawName) || BAD_ESCAPE.test(query < 0 ? rest : rest.slice(0, query))) {
    throw badPath(url);
  }
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    throw badPath(url);
  }
  return { name, rest };
}

function badPath(url: string): KilnError {
  return new KilnError(
    'invalid_path',
    `the path ${JSON.stringify(url.slice(0, 200))} has a malformed percent-escape; encode % as %25`,
    400,
  );
}
