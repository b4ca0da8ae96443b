/**
 * Span attribute names. Where OpenTelemetry's semantic conventions have one, it is theirs:
 * FaaS spans (semconv `faas/faas-spans.md`: `faas.trigger` MUST be set on the server span,
 * `faas.invocation_id`, `faas.coldstart`; `faas.name`/`faas.version` are the FaaS resource
 * attributes, set here per span because one gateway serves many functions) and HTTP server
 * spans (`http/http-spans.md`). Kiln's own are under `kiln.`.
 */
export const ATTR = {
  faasTrigger: 'faas.trigger',
  faasName: 'faas.name',
  faasVersion: 'faas.version',
  faasColdstart: 'faas.coldstart',
  faasInvocationId: 'faas.invocation_id',
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  urlPath: 'url.path',
  errorType: 'error.type',
  /** How the instance came to serve: `cold`, `stem` or `warm`. */
  kilnStart: 'kiln.start',
  kilnInstance: 'kiln.instance',
  /** The instance was started ahead of the request (a deploy, `minInstances`). */
  kilnPrewarmed: 'kiln.prewarmed',
  kilnRuntime: 'kiln.runtime',
  kilnLayerReused: 'kiln.layer_reused',
} as const;
