// Summary statistics over samples in ms: the numbers every scenario reports.

export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  if (sorted.length === 0) return null;
  return {
    n: sorted.length,
    median: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

export function round(n, digits = 1) {
  return n === undefined || n === null ? n : Number(n.toFixed(digits));
}
