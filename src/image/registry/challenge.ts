/**
 * A `WWW-Authenticate` challenge (RFC 7235 §4.1), as registries send them: `Basic
 * realm="…"` or `Bearer realm="…",service="…",scope="…"` (distribution's token
 * authentication spec, docs/spec/auth/token.md).
 */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** The first challenge of a header; parameters quoted or bare, names lowercased. */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/gy;
  const rest = m[2]!;
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  // biome-ignore lint/suspicious/noAssignInExpressions: a sticky regex walks the list
  while (re.lastIndex < rest.length && (p = re.exec(rest)) !== null) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}
