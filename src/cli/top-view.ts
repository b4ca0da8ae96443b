import type { PromSample } from './prometheus-text.js';

/** One function's line in `kiln top`. */
export interface TopRow {
  function: string;
  /** Requests answered per second over the interval. */
  reqPerSec: number;
  /** 5xx and 429 answers per second over the interval. */
  errorsPerSec: number;
  /** Seconds; undefined when no request finished in the interval. */
  p50?: number;
  p99?: number;
  /** Starts requests waited for since the gateway started, by kind. */
  coldStarts: number;
  stemStarts: number;
  instances: number;
  busy: number;
}

const sum = (samples: PromSample[], name: string, match: (labels: Record<string, string>) => boolean) =>
  samples.filter((s) => s.name === name && match(s.labels)).reduce((total, s) => total + s.value, 0);

/**
 * Each deployed function's line from two scrapes of `/metrics` `seconds` apart: rates from
 * the counters' differences, p50/p99 from the difference of `kiln_invoke_duration_seconds`'s
 * buckets (PromQL's `histogram_quantile` over the interval), the rest as read now. Invokes of
 * names that are no function (`function=""`) have no line.
 */
export function topRows(before: PromSample[], now: PromSample[], seconds: number): TopRow[] {
  const names = new Set<string>();
  for (const s of now) if (s.name.startsWith('kiln_') && s.labels.function) names.add(s.labels.function);
  const rows: TopRow[] = [];
  for (const fn of [...names].sort()) {
    const of = (labels: Record<string, string>) => labels.function === fn;
    const delta = (name: string, match: (labels: Record<string, string>) => boolean) =>
      Math.max(0, sum(now, name, match) - sum(before, name, match));
    const isError = (l: Record<string, string>) =>
      of(l) && (l.status === '429' || l.status?.startsWith('5') === true);
    const buckets = new Map<number, number>();
    for (const s of now) {
      if (s.name !== 'kiln_invoke_duration_seconds_bucket' || !of(s.labels)) continue;
      const le = Number(s.labels.le === '+Inf' ? Infinity : s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
    for (const s of before) {
      if (s.name !== 'kiln_invoke_duration_seconds_bucket' || !of(s.labels)) continue;
      const le = Number(s.labels.le === '+Inf' ? Infinity : s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) - s.value);
    }
    const sorted = [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
    rows.push({
      function: fn,
      reqPerSec: delta('kiln_invocations_total', of) / seconds,
      errorsPerSec: delta('kiln_invocations_total', isError) / seconds,
      p50: histogramQuantile(0.5, sorted),
      p99: histogramQuantile(0.99, sorted),
      coldStarts: sum(now, 'kiln_cold_starts_total', (l) => of(l) && l.start === 'cold'),
      stemStarts: sum(now, 'kiln_cold_starts_total', (l) => of(l) && l.start === 'stem'),
      instances: sum(now, 'kiln_instances', of),
      busy: sum(now, 'kiln_instances', (l) => of(l) && l.state === 'busy'),
    });
  }
  return rows;
}

/**
 * The `q` quantile of cumulative buckets (`le` ascending, the last `+Inf`), as PromQL's
 * `histogram_quantile` computes it: linear within the bucket the rank falls in, the lower
 * bound of the first bucket 0, and the highest finite bound when it falls in `+Inf`.
 */
export function histogramQuantile(q: number, buckets: { le: number; count: number }[]): number | undefined {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + (le - lower) * ((rank - below) / (count - below || 1));
    }
    lower = le;
    below = count;
  }
  return lower;
}

function ms(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  const n = seconds * 1000;
  return n < 10 ? n.toFixed(1) : String(Math.round(n));
}

function rate(n: number): string {
  return n === 0 ? '0' : n < 10 ? n.toFixed(1) : String(Math.round(n));
}

/** The table `kiln top` prints. */
export function topTable(rows: TopRow[]): { header: string[]; cells: string[][] } {
  return {
    header: ['FUNCTION', 'REQ/S', 'ERR/S', 'P50 MS', 'P99 MS', 'COLD', 'STEM', 'INSTANCES', 'BUSY'],
    cells: rows.map((r) => [
      r.function,
      rate(r.reqPerSec),
      rate(r.errorsPerSec),
      ms(r.p50),
      ms(r.p99),
      String(r.coldStarts),
      String(r.stemStarts),
      String(r.instances),
      String(r.busy),
    ]),
  };
}
