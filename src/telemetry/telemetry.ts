import type { Attributes } from '@opentelemetry/api';
import { ATTR } from './attributes.js';
import { GatewayLog, logLevelFromEnv } from './gateway-log.js';
import { KilnMetrics } from './metrics.js';
import { type OpenPhase, PhaseRecorder } from './phase-recorder.js';
import { type HeaderCarrier, TraceRoot, tracingEnabled } from './tracing.js';

/** What the pool says about the instance a request got (`WarmPool.acquire`'s lease). */
export interface LeaseFacts {
  start: 'cold' | 'stem' | 'warm';
  /** Started ahead of the request (a deploy, `minInstances`): its phases are not this request's wait. */
  prewarmed?: boolean;
  instanceId: string;
  version: number;
  runtime: string;
  /** ms: `queue`, then the start's phases in order when it started for this request. */
  timings: Record<string, number>;
}

/** What a finished deploy reports. */
export interface DeployFacts {
  function: string;
  version: number;
  runtime: string;
  layerReused: boolean;
}

/**
 * Kiln's signals in one place: traces (when an SDK is installed: `otel-sdk.ts`), Prometheus
 * metrics, and the gateway's JSON log. The gateway makes one `InvokeTelemetry` per invoke
 * and one `DeployTelemetry` per deploy; each owns the `PhaseRecorder` that feeds both
 * `Server-Timing` and the trace.
 */
export class Telemetry {
  readonly metrics = new KilnMetrics();

  constructor(readonly log: GatewayLog = new GatewayLog(logLevelFromEnv())) {}

  invoke(
    fn: string,
    requestId: string,
    method: string,
    path: string,
    incoming: HeaderCarrier,
    trigger: 'http' | 'other' = 'http',
  ): InvokeTelemetry {
    return new InvokeTelemetry(this, fn, requestId, method, path, incoming, trigger);
  }

  deploy(incoming: HeaderCarrier, nameHint?: string): DeployTelemetry {
    return new DeployTelemetry(this, incoming, nameHint);
  }
}

/** Span names of a start's phases (the pool's names are Server-Timing tokens). */
const START_SPANS: Record<string, string> = {
  mount: 'mount',
  runtime: 'runtime create+start',
  ready: 'shim ready',
  specialize: 'specialize',
  init: 'init',
};

/** One invoke: its span (`faas.*`, `http.*`, `kiln.*`), phases, metrics and log line. */
export class InvokeTelemetry {
  readonly phases = new PhaseRecorder();
  private readonly root: TraceRoot | undefined;
  private acquireStart: number | undefined;
  private lease: LeaseFacts | undefined;
  private call: OpenPhase | undefined;

  constructor(
    private readonly telemetry: Telemetry,
    public fn: string,
    readonly requestId: string,
    private readonly method: string,
    path: string,
    incoming: HeaderCarrier,
    /** `faas.trigger`: `http` for a request, `other` for an async attempt (OTel's FaaS values). */
    trigger: 'http' | 'other' = 'http',
  ) {
    // Tracing off (the default), not even the attributes are made (issue 9: per-request allocations).
    this.root = !tracingEnabled()
      ? undefined
      : TraceRoot.start(
          fn,
          trigger === 'http' ? 'server' : 'consumer',
          incoming,
          {
            [ATTR.faasTrigger]: trigger,
            [ATTR.faasName]: fn,
            [ATTR.faasInvocationId]: requestId,
            [ATTR.httpMethod]: method,
            [ATTR.urlPath]: path,
          },
          this.phases.startedAt,
        );
  }

  /** The function's name once the request's own form of it (an ARN, `NAME:7`) is read. */
  named(fn: string): void {
    this.fn = fn;
    this.root?.span.updateName(fn);
    this.root?.span.setAttribute(ATTR.faasName, fn);
  }

  /** The request asks the pool for an instance now. */
  acquiring(): void {
    this.acquireStart = performance.now();
  }

  /** The pool's answer: the queue wait and, when the instance started for this request, its phases. */
  leased(lease: LeaseFacts): void {
    const end = performance.now();
    const start = this.acquireStart ?? end;
    this.lease = lease;
    const attributes = { [ATTR.kilnStart]: lease.start, [ATTR.kilnInstance]: lease.instanceId };
    this.phases.record('acquire', start, end, { group: true, attributes });
    const { queue, thaw } = lease.timings;
    if (queue !== undefined) {
      this.phases.record('queue', start, start + queue, { parent: 'acquire', spanName: 'queue wait' });
      this.telemetry.metrics.queued(this.fn, queue / 1000);
    }
    // A frozen instance was thawed for this request (src/pool/warm-pool.ts).
    if (thaw !== undefined)
      this.phases.record('thaw', end - thaw, end, { parent: 'acquire', spanName: 'thaw' });
    if (lease.start === 'warm') return;
    const startPhases: Record<string, number> = {};
    for (const [phase, ms] of Object.entries(lease.timings))
      if (phase !== 'queue' && phase !== 'thaw') startPhases[phase] = ms;
    const untraced = lease.prewarmed === true;
    this.phases.recordSequence(startPhases, end, { parent: 'acquire', untraced }, START_SPANS);
    if (!lease.prewarmed) {
      const seconds: Record<string, number> = {};
      for (const [phase, ms] of Object.entries(startPhases)) seconds[phase] = ms / 1000;
      this.telemetry.metrics.started(this.fn, lease.runtime, lease.start, seconds);
    }
  }

  /**
   * The request goes to the function now. With tracing on, `outgoing` gets the `traceparent`
   * of this call's span (replacing the caller's), so the function's own spans are its
   * children; off, the caller's `traceparent` (if any) stays in `outgoing` as it came.
   * `outgoing` is the proxy's raw `[name, value, …]` list or a buffered request's record.
   */
  calling(outgoing: string[] | Record<string, string | string[]>): void {
    this.call = this.phases.begin('fn', { spanName: 'call' });
    if (!this.root) return;
    const context: Record<string, string> = {};
    this.root.propagate('fn', 'call', this.call.start, context);
    if (Array.isArray(outgoing)) {
      for (let i = outgoing.length - 2; i >= 0; i -= 2) {
        const name = outgoing[i]!.toLowerCase();
        if (name === 'traceparent' || name === 'tracestate') outgoing.splice(i, 2);
      }
      for (const [name, value] of Object.entries(context)) outgoing.push(name, value);
      return;
    }
    for (const name of Object.keys(outgoing))
      if (name.toLowerCase() === 'traceparent' || name.toLowerCase() === 'tracestate') delete outgoing[name];
    Object.assign(outgoing, context);
  }

  /** The function's answer (its head, for a streamed body) is in. */
  called(): void {
    this.call?.end();
  }

  serverTiming(): string {
    return this.phases.serverTiming();
  }

  /** The answer is sent (or failed): end the span, count it, log it. */
  finish(status: number, errorCode?: string): void {
    const end = performance.now();
    this.call?.end();
    const lease = this.lease;
    const start = lease?.start ?? 'none';
    if (this.root) {
      const attributes: Attributes = { [ATTR.httpStatus]: status };
      if (lease) {
        attributes[ATTR.faasVersion] = String(lease.version);
        attributes[ATTR.faasColdstart] = lease.start !== 'warm' && !lease.prewarmed;
        attributes[ATTR.kilnStart] = lease.start;
        attributes[ATTR.kilnInstance] = lease.instanceId;
        if (lease.prewarmed) attributes[ATTR.kilnPrewarmed] = true;
      }
      if (errorCode) attributes[ATTR.errorType] = errorCode;
      this.root.finish(
        this.phases,
        attributes,
        end,
        status >= 500 ? (errorCode ?? String(status)) : undefined,
      );
    }
    const durationMs = end - this.phases.startedAt;
    this.telemetry.metrics.invoked({
      function: this.fn,
      status,
      start,
      seconds: durationMs / 1000,
      errorCode,
    });
    this.telemetry.log.log(status >= 500 ? 'warn' : 'info', 'invoke', {
      requestId: this.requestId,
      function: this.fn,
      version: lease?.version,
      method: this.method,
      status,
      durationMs: Math.round(durationMs * 100) / 100,
      start,
      instance: lease?.instanceId,
      code: errorCode,
    });
  }
}

/** One deploy: its span, the phases the deployer records, metrics and log line. */
export class DeployTelemetry {
  readonly phases = new PhaseRecorder();
  private readonly root: TraceRoot | undefined;

  constructor(
    private readonly telemetry: Telemetry,
    incoming: HeaderCarrier,
    private readonly nameHint?: string,
  ) {
    const attributes: Attributes = {};
    if (nameHint) attributes[ATTR.faasName] = nameHint;
    this.root = TraceRoot.start('deploy', 'server', incoming, attributes, this.phases.startedAt);
  }

  succeeded(facts: DeployFacts): void {
    const end = performance.now();
    this.root?.span.updateName(`deploy ${facts.function}`);
    this.root?.finish(
      this.phases,
      {
        [ATTR.faasName]: facts.function,
        [ATTR.faasVersion]: String(facts.version),
        [ATTR.kilnRuntime]: facts.runtime,
        [ATTR.kilnLayerReused]: facts.layerReused,
        [ATTR.httpStatus]: 201,
      },
      end,
    );
    const durationMs = end - this.phases.startedAt;
    this.telemetry.metrics.deployed(facts.function, facts.runtime, true, durationMs / 1000);
    this.telemetry.log.info('deploy', {
      function: facts.function,
      version: facts.version,
      status: 201,
      durationMs: Math.round(durationMs * 100) / 100,
    });
  }

  failed(status: number, code: string, runtime?: string): void {
    const end = performance.now();
    this.root?.finish(this.phases, { [ATTR.httpStatus]: status, [ATTR.errorType]: code }, end, code);
    const durationMs = end - this.phases.startedAt;
    this.telemetry.metrics.deployed(this.nameHint ?? '', runtime ?? '', false, durationMs / 1000);
    this.telemetry.log.log(status >= 500 ? 'error' : 'info', 'deploy failed', {
      function: this.nameHint,
      status,
      code,
      durationMs: Math.round(durationMs * 100) / 100,
    });
  }
}
