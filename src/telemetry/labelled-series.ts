import type { Metric, MetricValue, Registry } from 'prom-client';

/**
 * A counter and a histogram whose series are found once per label set and then updated in
 * place, exported exactly as prom-client's `Counter` and `Histogram` export them (same
 * values, same series order; `labelled-series.test.ts` compares the text). prom-client 15
 * builds a hash of the labels, validates them and (histograms) makes a closure on every call,
 * children from `labels()` included (they only bind the labels): three such calls per invoke
 * were ~3 µs of the gateway's CPU (microbenchmark, issue 9). Used for the per-invoke metrics
 * only; the rest stay prom-client's own.
 */
interface Exported {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue<string>[];
  aggregator: 'sum';
}

/** A counter's value for one label set. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(by = 1): void {
    this.value += by;
  }
}

/** A histogram's buckets (not cumulative: per upper bound), sum and count for one label set. */
export class HistogramSeries {
  sum = 0;
  count = 0;
  readonly buckets: number[];

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly upperBounds: readonly number[],
  ) {
    this.buckets = upperBounds.map(() => 0);
  }

  /** prom-client's `observe`: a value past the last bound is in `+Inf` (the count) only. */
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.buckets[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }
}

/** Series by their label values, made (in first-use order, the export's order) when first asked for. */
abstract class LabelledMetric<L extends string, S extends CounterSeries | HistogramSeries> {
  private series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    registers: Registry[],
  ) {
    // prom-client's registry takes any object with its metrics' shape (name, get, reset).
    for (const registry of registers) registry.registerMetric(this as unknown as Metric<string>);
  }

  /** The series of these label values, given in `labelNames`' order. */
  at(...values: string[]): S {
    const key = values.join('\u0000');
    let found = this.series.get(key);
    if (!found) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i]!;
      });
      found = this.make(labels);
      this.series.set(key, found);
    }
    return found;
  }

  reset(): void {
    this.series = new Map();
  }

  protected all(): IterableIterator<S> {
    return this.series.values();
  }

  protected abstract make(labels: Record<string, string>): S;
}

export class LabelledCounter<L extends string> extends LabelledMetric<L, CounterSeries> {
  readonly type = 'counter';
  readonly aggregator = 'sum';

  protected make(labels: Record<string, string>): CounterSeries {
    return new CounterSeries(labels);
  }

  async get(): Promise<Exported> {
    const values = [...this.all()].map(({ value, labels }) => ({ value, labels }));
    return { help: this.help, name: this.name, type: this.type, values, aggregator: this.aggregator };
  }
}

export class LabelledHistogram<L extends string> extends LabelledMetric<L, HistogramSeries> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    readonly upperBounds: readonly number[],
    registers: Registry[],
  ) {
    super(name, help, labelNames, registers);
  }

  protected make(labels: Record<string, string>): HistogramSeries {
    return new HistogramSeries(labels, this.upperBounds);
  }

  /** The text format's form: `le` in `labels`, the series' own labels as `sharedLabels`. */
  async getForPromString(): Promise<Exported> {
    const values: MetricValue<string>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.all()) {
      const sharedLabels = series.labels;
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += series.buckets[i]!;
        values.push(exported({ le }, cumulative, bucket, sharedLabels, null));
      });
      values.push(
        exported({ le: '+Inf' }, series.count, bucket, sharedLabels, null),
        exported({}, series.sum, `${this.name}_sum`, sharedLabels, undefined),
        exported({}, series.count, `${this.name}_count`, sharedLabels, undefined),
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** prom-client's JSON form: `sharedLabels` merged into `labels`. */
  async get(): Promise<Exported> {
    const data = await this.getForPromString();
    data.values = data.values.map((value) => {
      const { sharedLabels, labels, ...rest } = value as MetricValue<string> & {
        sharedLabels: Record<string, string>;
      };
      return { ...rest, labels: { ...labels, ...sharedLabels } } as MetricValue<string>;
    });
    return data;
  }
}

/** One exported value, with prom-client's fields in its order. */
function exported(
  labels: Record<string, string | number>,
  value: number,
  metricName: string,
  sharedLabels: Readonly<Record<string, string>>,
  exemplar: null | undefined,
): MetricValue<string> {
  return { labels, sharedLabels, value, metricName, exemplar } as unknown as MetricValue<string>;
}
