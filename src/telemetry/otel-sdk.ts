import { context, propagation, trace } from '@opentelemetry/api';
import { setTracingEnabled } from './tracing.js';

/** What `installTracing` installed: flush and stop it on shutdown. */
export interface InstalledTracing {
  /** Where spans go (OTLP/HTTP, JSON), without any user or password the URL held: for logs. */
  shownUrl: string;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The OTLP/HTTP traces URL the standard variables name, or undefined: no exporter.
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is; `OTEL_EXPORTER_OTLP_ENDPOINT` gets
 * `/v1/traces` appended (OTLP exporter spec, "Endpoint URLs for OTLP/HTTP").
 */
export function otlpTracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * With an OTLP endpoint configured, load the OpenTelemetry Node tracing SDK and register it
 * globally: a `NodeTracerProvider` (AsyncLocalStorage context, the W3C trace-context
 * propagator, the sampler from `OTEL_TRACES_SAMPLER`/`_ARG`, read by the SDK itself) with a
 * batching OTLP/HTTP exporter, and the resource's `service.name` from `OTEL_SERVICE_NAME`
 * (default `kiln`). Without one nothing is imported: the SDK's modules are never loaded.
 */
export async function installTracing(
  env: NodeJS.ProcessEnv = process.env,
): Promise<InstalledTracing | undefined> {
  const url = otlpTracesUrl(env);
  if (!url) return undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'kiln' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  provider.register();
  setTracingEnabled(true);
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  return {
    shownUrl: shown.href,
    forceFlush: () => provider.forceFlush(),
    shutdown: async () => {
      setTracingEnabled(false);
      await provider.shutdown();
      // The API's globals refuse a second registration until they are cleared.
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
