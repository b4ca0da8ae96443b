/** A route as Hono lists it (`app.routes`): middleware shows up with method `ALL`. */
export interface RouteEntry {
  method: string;
  path: string;
}

/**
 * The methods some route answers at `path`, for a 405's `Allow` (RFC 9110 §15.5.6) when the
 * request's own method has none: `DELETE /functions` answers 405 `Allow: GET, POST`, a path
 * no route has stays a 404. Hono patterns: `:param` is one segment, `*` the rest.
 */
export function allowedMethods(routes: readonly RouteEntry[], path: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === 'ALL' || route.path === '/*' || route.path === '*') continue;
    if (patternOf(route.path).test(path)) methods.add(route.method);
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

const patterns = new Map<string, RegExp>();

function patternOf(route: string): RegExp {
  let re = patterns.get(route);
  if (!re) {
    const body = route
      .split('/')
      .map((seg) =>
        seg === '*' ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    re = new RegExp(`^${body}/?$`);
    patterns.set(route, re);
  }
  return re;
}
