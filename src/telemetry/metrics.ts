import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LabelledCounter, LabelledHistogram } from './labelled-series.js';

/**
 * What the metrics read from the rest of Kiln at each scrape (wired in `src/kiln.ts`), so
 * that `src/telemetry` imports no other module.
 */
export interface MetricsSource {
  instances(): Promise<InstanceSample[]>;
  /** Ready stem cells by language. */
  stemCellsReady(): Promise<Record<string, number>>;
  /** Requests waiting for a slot, by function (absent: the pool does not say). */
  queueDepths?(): Record<string, number>;
  /**
   * Whether a function of this name is deployed. An invoke of any other name is counted
   * under `function=""`: names come from strangers, and each new label value is a new series
   * the gateway keeps forever.
   */
  isFunction?(name: string): boolean;
}

export interface InstanceSample {
  id: string;
  function: string;
  state: string;
  memoryBytes: number;
  /** CPU time the instance's cgroup has used since it was made, in µs. */
  cpuUsageUs: number;
}

/** One finished invoke, as the gateway saw it. */
export interface InvokeSample {
  function: string;
  status: number;
  /** `cold`, `stem`, `warm`, or `none` when no instance was reached (429, unknown function). */
  start: string;
  seconds: number;
  /** The error's code when Kiln answered with one (`queue_full`, `timeout`, …). */
  errorCode?: string;
}

/** Why an invoke failed in Kiln's terms, for `kiln_invoke_failures_total`; others are not counted there. */
const FAILURE_REASONS: Record<string, string> = {
  queue_full: 'throttled',
  timeout: 'timeout',
  function_crashed: 'crash',
  out_of_memory: 'oom',
};

/** Seconds; from 1 ms (a warm call) to 30 s (a timeout). */
const INVOKE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; a start phase is 1 ms (specialize) to seconds (a JVM's init). */
const START_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DEPLOY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * Kiln's Prometheus metrics, in a registry of their own (`GET /metrics`). prom-client, not
 * the OpenTelemetry Prometheus exporter: that one needs the OTel metrics SDK loaded in
 * every gateway, while tracing off must load no SDK at all; prom-client is a small
 * dependency with the text format, histograms and scrape-time gauges it needs.
 */
export class KilnMetrics {
  readonly registry = new Registry();
  // Updated on every invoke: series found once per label set (labelled-series.ts).
  private readonly invocations: LabelledCounter<'function' | 'status' | 'start'>;
  private readonly invokeDuration: LabelledHistogram<'function' | 'start'>;
  private readonly failures: LabelledCounter<'function' | 'reason'>;
  private readonly coldStart: Histogram<'runtime' | 'start' | 'phase'>;
  private readonly coldStarts: Counter<'function' | 'runtime' | 'start'>;
  private readonly queueWait: LabelledHistogram<'function'>;
  private readonly queueDepth: Gauge<'function'>;
  private readonly instances: Gauge<'function' | 'state'>;
  private readonly stemCells: Gauge<'language'>;
  private readonly memory: Gauge<'function'>;
  private readonly cpu: Counter<'function'>;
  private readonly deploys: Counter<'function' | 'runtime' | 'outcome'>;
  private readonly deployDuration: Histogram<'runtime'>;
  /** Last CPU reading per instance, so the counter adds only what each used since. */
  private readonly cpuSeen = new Map<string, number>();
  private source: MetricsSource | undefined;

  constructor() {
    const registers = [this.registry];
    this.invocations = new LabelledCounter(
      'kiln_invocations_total',
      'Invokes answered, by function, HTTP status and start kind (cold, stem, warm; none when no instance was reached)',
      ['function', 'status', 'start'],
      registers,
    );
    this.invokeDuration = new LabelledHistogram(
      'kiln_invoke_duration_seconds',
      'Time from the request reaching the gateway to its answer, by function and start kind',
      ['function', 'start'],
      INVOKE_BUCKETS,
      registers,
    );
    this.failures = new LabelledCounter(
      'kiln_invoke_failures_total',
      'Invokes Kiln failed, by function and reason: throttled (429), timeout (504), crash and oom (502)',
      ['function', 'reason'],
      registers,
    );
    this.coldStart = new Histogram({
      name: 'kiln_cold_start_duration_seconds',
      help: 'Instance starts a request waited for, by runtime, start kind (cold, stem) and phase (mount, runtime, ready, specialize, init; total)',
      labelNames: ['runtime', 'start', 'phase'],
      buckets: START_BUCKETS,
      registers,
    });
    this.coldStarts = new Counter({
      name: 'kiln_cold_starts_total',
      help: 'Instance starts a request waited for, by function, runtime and start kind (cold, stem)',
      labelNames: ['function', 'runtime', 'start'],
      registers,
    });
    this.queueWait = new LabelledHistogram(
      'kiln_queue_wait_seconds',
      "Time a request waited for a slot in its function's queue",
      ['function'],
      INVOKE_BUCKETS,
      registers,
    );
    this.queueDepth = new Gauge({
      name: 'kiln_queue_depth',
      help: 'Requests waiting for a slot, by function',
      labelNames: ['function'],
      registers,
    });
    this.instances = new Gauge({
      name: 'kiln_instances',
      help: 'Function instances, by function and state (starting, idle, busy, draining)',
      labelNames: ['function', 'state'],
      registers,
    });
    this.stemCells = new Gauge({
      name: 'kiln_stem_cells_ready',
      help: 'Stem cells ready to be specialized, by language',
      labelNames: ['language'],
      registers,
    });
    this.memory = new Gauge({
      name: 'kiln_function_memory_bytes',
      help: "Memory charged to a function's instances' cgroups now",
      labelNames: ['function'],
      registers,
    });
    this.cpu = new Counter({
      name: 'kiln_function_cpu_seconds_total',
      help: "CPU time used by a function's instances (their cgroups), counted at each scrape",
      labelNames: ['function'],
      registers,
    });
    this.deploys = new Counter({
      name: 'kiln_deploys_total',
      help: 'Deploys, by function, runtime and outcome (ok, failed)',
      labelNames: ['function', 'runtime', 'outcome'],
      registers,
    });
    this.deployDuration = new Histogram({
      name: 'kiln_deploy_duration_seconds',
      help: 'Time a deploy took, from its body arriving to its answer, by runtime',
      labelNames: ['runtime'],
      buckets: DEPLOY_BUCKETS,
      registers,
    });
  }

  /** Every metric family Kiln exports, with its type and label names (the dashboard's test reads it). */
  families(): { name: string; type: string; labelNames: string[] }[] {
    return this.registry.getMetricsAsArray().map((metric) => {
      // prom-client keeps the names it was given on the metric; its types do not show them.
      const { name, type, labelNames } = metric as unknown as {
        name: string;
        type: string;
        labelNames: string[];
      };
      return { name, type, labelNames: [...labelNames] };
    });
  }

  /** Where the scrape-time gauges read from. */
  watch(source: MetricsSource): void {
    this.source = source;
  }

  invoked(sample: InvokeSample): void {
    const fn = this.source?.isFunction?.(sample.function) === false ? '' : sample.function;
    this.invocations.at(fn, String(sample.status), sample.start).inc();
    this.invokeDuration.at(fn, sample.start).observe(sample.seconds);
    const reason = sample.errorCode && FAILURE_REASONS[sample.errorCode];
    if (reason) this.failures.at(fn, reason).inc();
  }

  /** A start this request waited for: each phase's seconds, and their total. */
  started(fn: string, runtime: string, start: string, phases: Record<string, number>): void {
    this.coldStarts.inc({ function: fn, runtime, start });
    let total = 0;
    for (const [phase, seconds] of Object.entries(phases)) {
      this.coldStart.observe({ runtime, start, phase }, seconds);
      total += seconds;
    }
    this.coldStart.observe({ runtime, start, phase: 'total' }, total);
  }

  queued(fn: string, seconds: number): void {
    this.queueWait.at(fn).observe(seconds);
  }

  deployed(fn: string, runtime: string, ok: boolean, seconds: number): void {
    this.deploys.inc({ function: fn, runtime, outcome: ok ? 'ok' : 'failed' });
    this.deployDuration.observe({ runtime }, seconds);
  }

  /** The Prometheus text exposition (version 0.0.4) after reading the gauges' sources. */
  async render(): Promise<string> {
    if (this.source) await this.sample(this.source);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async sample(source: MetricsSource): Promise<void> {
    const [instances, stemCells] = await Promise.all([source.instances(), source.stemCellsReady()]);
    this.instances.reset();
    this.memory.reset();
    const seen = new Set<string>();
    for (const i of instances) {
      seen.add(i.id);
      this.instances.inc({ function: i.function, state: i.state });
      this.memory.inc({ function: i.function }, i.memoryBytes);
      const before = this.cpuSeen.get(i.id) ?? 0;
      if (i.cpuUsageUs > before) this.cpu.inc({ function: i.function }, (i.cpuUsageUs - before) / 1e6);
      this.cpuSeen.set(i.id, Math.max(before, i.cpuUsageUs));
    }
    for (const id of this.cpuSeen.keys()) if (!seen.has(id)) this.cpuSeen.delete(id);
    this.stemCells.reset();
    for (const [language, ready] of Object.entries(stemCells)) this.stemCells.set({ language }, ready);
    const depths = source.queueDepths?.();
    if (depths) {
      this.queueDepth.reset();
      for (const [fn, waiting] of Object.entries(depths)) this.queueDepth.set({ function: fn }, waiting);
    }
  }
}
