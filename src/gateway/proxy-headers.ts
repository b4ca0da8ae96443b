/**
 * Which headers cross the gateway, each way (RFC 9110 §7.6.1): hop-by-hop headers describe
 * one connection and never pass a proxy, nor does any header a `Connection` header names.
 * A client's `x-kiln-*` headers never reach the shim: the shim trusts them (the request id,
 * the deadline, raw invokes, health probes; docs/DESIGN.md §5). Pure, over flat
 * `[name, value, …]` lists as node's `rawHeaders` gives them.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Names a `Connection` header lists (`Connection: keep-alive, Upgrade, X-Foo`), lowercase. */
function connectionNamed(raw: readonly string[]): Set<string> | undefined {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase();
      if (!name) continue;
      named ??= new Set();
      named.add(name);
    }
  }
  return named;
}

/**
 * A client's request headers as the shim gets them: lowercase names; no hop-by-hop, no
 * `Connection`-named, no `x-kiln-*`; no `content-length` or `expect` either, because the
 * gateway frames the body itself and has answered `Expect: 100-continue` already; and no
 * `authorization` when it carried the gateway's own token (`auth: "token"` functions).
 */
export function requestHeadersForShim(raw: readonly string[], dropAuthorization = false): string[] {
  const named = connectionNamed(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (
      HOP_BY_HOP.has(name) ||
      name === 'content-length' ||
      name === 'expect' ||
      name.startsWith('x-kiln-') ||
      named?.has(name) ||
      (dropAuthorization && name === 'authorization')
    )
      continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/**
 * A shim's response headers as the client gets them: no hop-by-hop, no `Connection`-named,
 * no `content-length` (the gateway sets the framing), and none of the gateway's own
 * `x-kiln-*` answer headers (a function cannot forge how it was served). The shim's
 * `x-kiln-error` and `x-kiln-function-error` pass: they are its answer.
 */
export function responseHeadersForClient(raw: readonly string[]): string[] {
  const named = connectionNamed(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (HOP_BY_HOP.has(name) || name === 'content-length' || named?.has(name) || GATEWAY_HEADERS.has(name))
      continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** What the gateway says about how a request was served; only the gateway sets these. */
const GATEWAY_HEADERS = new Set([
  'x-kiln-start',
  'x-kiln-instance',
  'x-kiln-version',
  'x-kiln-request-id',
  'x-kiln-prewarmed',
  'server-timing',
]);
