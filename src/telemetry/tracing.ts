import {
  type Attributes,
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { Phase, PhaseRecorder } from './phase-recorder.js';

/**
 * Whether an SDK is installed (`installTracing`). Until one is, Kiln makes no span at all:
 * not even the API's no-op ones, so tracing off costs a branch per request. The incoming
 * `traceparent` still reaches the function untouched (the gateway forwards the headers).
 */
let enabled = false;

export function tracingEnabled(): boolean {
  return enabled;
}

/** Called by `installTracing` once a tracer provider is registered; tests call it to undo. */
export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

export type HeaderCarrier = Record<string, string | string[] | undefined>;

/** `performance.now()` ms to epoch ms, the form the API takes as a span time. */
function epoch(t: number): number {
  return performance.timeOrigin + t;
}

/**
 * The span of one deploy or invoke, continuing the caller's W3C `traceparent`, and the
 * children made from its `PhaseRecorder` when it ends: each phase is a span with the
 * phase's own start and end, so the trace and `Server-Timing` say the same thing.
 */
export class TraceRoot {
  /** Spans begun while their phase runs (the proxied call, whose context the function gets). */
  private readonly live = new Map<string, Span>();

  private constructor(
    readonly span: Span,
    private readonly context: Context,
  ) {}

  /** A root span when tracing is on, else undefined (and nothing is made). */
  static start(
    name: string,
    kind: 'server' | 'consumer' | 'internal',
    incoming: HeaderCarrier,
    attributes: Attributes,
    startedAt: number,
  ): TraceRoot | undefined {
    if (!enabled) return undefined;
    const parent = propagation.extract(ROOT_CONTEXT, incoming);
    const span = trace.getTracer('kiln').startSpan(
      name,
      {
        kind:
          kind === 'server' ? SpanKind.SERVER : kind === 'consumer' ? SpanKind.CONSUMER : SpanKind.INTERNAL,
        attributes,
        startTime: epoch(startedAt),
      },
      parent,
    );
    return new TraceRoot(span, trace.setSpan(parent, span));
  }

  /**
   * Begin the span of phase `phaseName` now (it ends with the phase, in `finish`) and write
   * its context into `outgoing` as `traceparent`/`tracestate`: the function's own spans
   * become its children.
   */
  propagate(phaseName: string, spanName: string, startedAt: number, outgoing: Record<string, string>): void {
    const span = trace
      .getTracer('kiln')
      .startSpan(spanName, { kind: SpanKind.CLIENT, startTime: epoch(startedAt) }, this.context);
    this.live.set(phaseName, span);
    propagation.inject(trace.setSpan(this.context, span), outgoing);
  }

  /** End the root span at `endedAt` with its children from `phases`; `errorType` marks a failure. */
  finish(phases: PhaseRecorder, attributes: Attributes, endedAt: number, errorType?: string): void {
    const contexts = new Map<string, Context>();
    for (const phase of byDepth(phases.phases)) {
      if (phase.untraced) continue;
      const parentContext = (phase.parent && contexts.get(phase.parent)) || this.context;
      let span = this.live.get(phase.name);
      if (span) this.live.delete(phase.name);
      else
        span = trace
          .getTracer('kiln')
          .startSpan(phase.spanName ?? phase.name, { startTime: epoch(phase.start) }, parentContext);
      if (phase.attributes) span.setAttributes(phase.attributes);
      contexts.set(phase.name, trace.setSpan(parentContext, span));
      span.end(epoch(phase.end));
    }
    // A live span whose phase never ended (the call threw before it was recorded).
    for (const span of this.live.values()) span.end(epoch(endedAt));
    this.span.setAttributes(attributes);
    if (errorType) this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    this.span.end(epoch(endedAt));
  }
}

/** Parents before their children, otherwise in the order recorded. */
function byDepth(phases: Phase[]): Phase[] {
  const byName = new Map(phases.map((p) => [p.name, p]));
  const depth = (p: Phase): number => {
    let d = 0;
    for (let at = p.parent; at !== undefined && d < phases.length; at = byName.get(at)?.parent) d++;
    return d;
  };
  return phases
    .map((phase, index) => ({ phase, index, depth: depth(phase) }))
    .sort((a, b) => a.depth - b.depth || a.index - b.index)
    .map((entry) => entry.phase);
}
