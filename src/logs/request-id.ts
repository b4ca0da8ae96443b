/**
 * The request id a shim wrote into a log line, in the shapes Lambda's runtimes write them
 * (SHIM-PROTOCOL.md §5):
 * - node's console: `<ISO time>\t<requestId>\t<LEVEL>\t<message>` (also its "Invoke Error" line);
 * - python's logging: `[LEVEL]\t<ISO time>\t<requestId>\t<message>`;
 * - JSON log lines (`AWS_LAMBDA_LOG_FORMAT=JSON`, both runtimes; python's error object too):
 *   a `"requestId"` member.
 * Anything else (print, System.out, a python traceback line) names no request.
 */
const NODE_TEXT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\t([^\t]+)\t[A-Z]+\t/;
const PYTHON_TEXT = /^\[[A-Z]+\]\t\d{4}-\d\d-\d\dT[\d:.]+Z\t([^\t]+)\t/;

export function requestIdOf(line: string): string | undefined {
  const text = NODE_TEXT.exec(line) ?? PYTHON_TEXT.exec(line);
  if (text) return usable(text[1]);
  if (line.startsWith('{') && line.includes('"requestId"')) {
    try {
      const parsed = JSON.parse(line) as { requestId?: unknown };
      return typeof parsed.requestId === 'string' ? usable(parsed.requestId) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** node writes `undefined` and python an empty field outside a request. */
function usable(id: string | undefined): string | undefined {
  return id && id !== 'undefined' && id !== 'null' && id.length <= 128 ? id : undefined;
}
