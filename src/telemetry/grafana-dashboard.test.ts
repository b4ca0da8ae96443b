import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { KilnMetrics } from './metrics.js';

interface Panel {
  title: string;
  targets?: { expr: string }[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; definition?: string }[] };
}

const dashboard = JSON.parse(
  await readFile(new URL('../../docs/grafana/kiln.json', import.meta.url), 'utf8'),
) as Dashboard;

/** Series names Kiln exports: each family, and a histogram's `_bucket`, `_sum` and `_count`. */
function exported(): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const family of new KilnMetrics().families()) {
    names.set(family.name, family.labelNames);
    if (family.type === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count'])
        names.set(
          family.name + suffix,
          suffix === '_bucket' ? [...family.labelNames, 'le'] : family.labelNames,
        );
  }
  return names;
}

/** Each `kiln_*` selector of a PromQL query: its name and the labels its matchers name. */
function selectors(query: string): { name: string; labels: string[] }[] {
  const found: { name: string; labels: string[] }[] = [];
  for (const m of query.matchAll(/\b(kiln_[a-z0-9_]+)\s*(\{([^}]*)\})?/g)) {
    const labels = [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((l) => l[1]!);
    found.push({ name: m[1]!, labels });
  }
  return found;
}

/** Labels a query aggregates by: `by (a, b)`. */
function groupings(query: string): string[] {
  return [...query.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) =>
    m[1]!
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean),
  );
}

describe('docs/grafana/kiln.json', () => {
  const series = exported();
  const queries = dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
  );
  for (const variable of dashboard.templating.list)
    if (variable.definition) queries.push({ panel: `$${variable.name}`, expr: variable.definition });

  it('has the panels the issue asks for', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const word of [
      'requests',
      'errors',
      'p99',
      'cold starts',
      'by kind',
      'phase',
      'instances',
      'memory',
    ])
      expect(titles).toContain(word);
  });

  it.each(queries.map((q) => [q.panel, q.expr] as const))(
    '%s: %s names only metrics and labels Kiln exports',
    (_panel, expr) => {
      const used = selectors(expr);
      expect(used.length).toBeGreaterThan(0);
      for (const { name, labels } of used) {
        expect([...series.keys()]).toContain(name);
        for (const label of labels) expect(series.get(name)).toContain(label);
        for (const label of groupings(expr)) expect(series.get(name)).toContain(label);
      }
    },
  );
});
