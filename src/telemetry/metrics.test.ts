import { describe, expect, it } from 'vitest';
import { KilnMetrics } from './metrics.js';

describe('KilnMetrics names', () => {
  // Prometheus's naming rules (docs: "Metric and label naming"): an application prefix, base
  // units (seconds, bytes) as a suffix, `_total` on counters and only on them, snake_case
  // labels; OpenTelemetry's Prometheus mapping writes the same shapes.
  const families = new KilnMetrics().families();

  it.each(families.map((f) => [f.name, f] as const))('%s follows the conventions', (_name, family) => {
    expect(family.name).toMatch(/^kiln_[a-z][a-z0-9_]*[a-z0-9]$/);
    if (family.type === 'counter') expect(family.name).toMatch(/_total$/);
    else expect(family.name).not.toMatch(/_total$/);
    if (family.type === 'histogram') expect(family.name).toMatch(/_seconds$/);
    for (const label of family.labelNames) {
      expect(label).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(label.startsWith('__')).toBe(false);
      // `le` is the histogram's own label.
      expect(label).not.toBe('le');
    }
  });

  it('counts an invoke of a name that is no function under function=""', async () => {
    const metrics = new KilnMetrics();
    metrics.watch({
      instances: async () => [],
      stemCellsReady: async () => ({}),
      isFunction: (name) => name === 'real',
    });
    metrics.invoked({ function: 'real', status: 200, start: 'warm', seconds: 0.01 });
    metrics.invoked({ function: 'made-up-by-a-stranger', status: 404, start: 'none', seconds: 0.001 });
    const text = await metrics.render();
    expect(text).toContain('kiln_invocations_total{function="real",status="200",start="warm"} 1');
    expect(text).toContain('kiln_invocations_total{function="",status="404",start="none"} 1');
    expect(text).not.toContain('made-up-by-a-stranger');
  });
});
