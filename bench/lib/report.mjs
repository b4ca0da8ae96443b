// bench/results/latest.md: the table a person reads in ten seconds.
import { round, summarize } from './stats.mjs';

const LANGS = ['node', 'python', 'java'];

function cell(samples) {
  const s = samples && summarize(samples);
  return s ? `${round(s.median)} (p90 ${round(s.p90)})` : '—';
}

export function startRows(r) {
  const rows = [];
  const row = (label, pick, note = '') => rows.push([label, ...LANGS.map((l) => cell(pick(l))), note]);
  row('bare process (floor, `env -i`, chroot)', (l) => r.floor?.[l]?.samples);
  row('**Kiln cold** (new container)', (l) => r.cold?.[l]?.samples);
  row('**Kiln stem** (prewarmed container specialized)', (l) => r.stem?.[l]?.samples);
  row('**Kiln warm** (through the gateway)', (l) => r.warm?.[l]?.viaGateway);
  row('warm, straight to the shim socket', (l) => r.warm?.[l]?.direct);
  for (const engine of ['docker', 'podman']) {
    const e = r.containers?.[engine];
    if (e?.skipped) rows.push([`\`${engine} run --rm\``, '—', '—', '—', `skipped: ${e.skipped}`]);
    else row(`\`${engine} run --rm\` (${e?.version ?? ''})`, (l) => e?.languages?.[l]?.samples);
  }
  if (r.vm?.skipped) rows.push(['qemu microVM', '—', '—', '—', `skipped: ${r.vm.skipped}`]);
  else {
    const labels = [
      ...new Set(
        Object.values(r.vm?.languages ?? {})
          .map((v) => v.label)
          .filter(Boolean),
      ),
    ];
    const notes = Object.entries(r.vm?.languages ?? {})
      .filter(([, v]) => v.skipped)
      .map(([l, v]) => `${l}: ${v.skipped}`);
    row(`qemu microVM, ${labels.join(', ')}`, (l) => r.vm?.languages?.[l]?.samples, notes.join('; '));
  }
  rows.push([
    'Firecracker microVM boot (published, KVM)',
    '≤ 125',
    '≤ 125',
    '≤ 125',
    'hardware-VM anchor, not measured here',
  ]);
  return rows;
}

function ratio(a, b) {
  const x = a && summarize(a);
  const y = b && summarize(b);
  return x && y ? `${round(y.median / x.median, 1)}×` : '—';
}

export function markdown(r) {
  const lines = [];
  lines.push(
    `# Kiln benchmark — ${r.startedAt}${r.quick ? ' (quick mode: a few runs, numbers are rough)' : ''}`,
  );
  lines.push('');
  lines.push(
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGiB} GiB, kernel ${r.machine.kernel}; ${r.machine.ociRuntime}; host node ${r.machine.node}. Runs per scenario: ${r.runs} after ${r.warmup} warm-up.`,
  );
  lines.push('');
  lines.push('## Time to first response (ms, median and p90)');
  lines.push('');
  lines.push('| scenario | node | python | java | note |');
  lines.push('|---|---|---|---|---|');
  for (const row of startRows(r)) lines.push(`| ${row.join(' | ')} |`);
  lines.push('');
  lines.push('Ratios in this run (median ÷ median):');
  lines.push('');
  lines.push('| | node | python | java |');
  lines.push('|---|---|---|---|');
  const ratioRow = (label, a, b) =>
    lines.push(`| ${label} | ${LANGS.map((l) => ratio(a(l), b(l))).join(' | ')} |`);
  ratioRow(
    'Kiln cold ÷ bare process',
    (l) => r.floor?.[l]?.samples,
    (l) => r.cold?.[l]?.samples,
  );
  ratioRow(
    'Kiln stem ÷ bare process',
    (l) => r.floor?.[l]?.samples,
    (l) => r.stem?.[l]?.samples,
  );
  ratioRow(
    'docker run ÷ Kiln cold',
    (l) => r.cold?.[l]?.samples,
    (l) => r.containers?.docker?.languages?.[l]?.samples,
  );
  ratioRow(
    'podman run ÷ Kiln cold',
    (l) => r.cold?.[l]?.samples,
    (l) => r.containers?.podman?.languages?.[l]?.samples,
  );
  ratioRow(
    'docker run ÷ Kiln stem',
    (l) => r.stem?.[l]?.samples,
    (l) => r.containers?.docker?.languages?.[l]?.samples,
  );
  ratioRow(
    'VM ÷ Kiln cold',
    (l) => r.cold?.[l]?.samples,
    (l) => r.vm?.languages?.[l]?.samples,
  );
  lines.push('');
  lines.push("## Where a Kiln start goes (median ms, from Kiln's own `Server-Timing`)");
  lines.push('');
  lines.push(
    '| start | language | mount | runtime spawn | crun create+start → shim ready | specialize | init | first response | client total |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const kind of ['cold', 'stem']) {
    for (const l of LANGS) {
      const res = r[kind]?.[l];
      if (!res) continue;
      const med = (k) => {
        const s = summarize(res.phases.map((p) => p[k]).filter((v) => v !== undefined));
        return s ? round(s.median) : '—';
      };
      lines.push(
        `| ${kind} | ${l} | ${med('mount')} | ${med('runtime')} | ${med('ready')} | ${med('specialize')} | ${med('init')} | ${med('fn')} | ${round(summarize(res.samples).median)} |`,
      );
    }
  }
  lines.push('');
  const oci = r.oci?.samples && summarize(r.oci.samples);
  if (oci) {
    lines.push(
      `The OCI runtime's share: \`${r.oci.runtime} run\` of \`/bin/true\` with Kiln's own spec (namespaces, cgroup limits, seccomp, overlay root) takes ${round(oci.median)} ms (p90 ${round(oci.p90)}) from spawn to exit, so the rest of the "crun create+start → shim ready" phase is the language runtime booting the shim inside the container.`,
    );
    lines.push('');
  }
  if (r.throughput?.layouts) {
    lines.push(
      `## Throughput (autocannon, ${r.throughput.seconds} s per point; Kiln and a bare node server, point by point in one run)`,
    );
    lines.push('');
    lines.push(
      "req/s (p50 / p99 ms). Kiln: through the gateway. Shim: one of the layout's instances on its unix socket, no gateway. Bare: the same hello server as a plain process. Bare in cgroup: that server in a cgroup beside the function containers (`kiln/`) with their one-core quota — on a busy host CFS group scheduling gives that cgroup less CPU, which is not Kiln's overhead.",
    );
    lines.push('');
    lines.push(
      '| layout | conns | Kiln | non-2xx / errors | shim | bare | bare in cgroup | Kiln ÷ bare | Kiln ÷ bare in cgroup | Kiln ÷ shim |',
    );
    lines.push('|---|---|---|---|---|---|---|---|---|---|');
    const point = (p) => (p ? `${Math.round(p.reqPerSec)} (${p.p50} / ${p.p99})` : '—');
    const ratio = (a, b) => (a && b ? round(a.reqPerSec / b.reqPerSec, 2) : '—');
    for (const layout of r.throughput.layouts) {
      layout.kiln.forEach((k, i) => {
        const [s, b, c] = [layout.shim?.[i], layout.bare[i], layout.confined?.[i]];
        lines.push(
          `| ${layout.spec} (${layout.instances} instances at the end) | ${k.connections} | ${point(k)} | ${k.non2xx} / ${k.errors} | ${point(s)} | ${point(b)} | ${point(c)} | ${ratio(k, b)} | ${ratio(k, c)} | ${ratio(k, s)} |`,
        );
      });
    }
    lines.push('');
  }
  if (r.async && !r.async.error) {
    const a = r.async;
    const alone = summarize(a.alone);
    const during = summarize(a.during);
    const submit = summarize(a.submitMs);
    lines.push(
      `## Sync latency while ${a.invocations} async invocations drain (one node function, maxInstances 2)`,
    );
    lines.push('');
    lines.push('| sync GET, sequential | n | median ms | p90 | p99 | max |');
    lines.push('|---|---|---|---|---|---|');
    for (const [label, s] of [
      ['alone', alone],
      ['while async drains', during],
    ])
      lines.push(
        `| ${label} | ${s.n} | ${round(s.median)} | ${round(s.p90)} | ${round(s.p99)} | ${round(s.max)} |`,
      );
    lines.push('');
    lines.push(
      `Async: ${a.invocations} submitted 50 at a time in ${round(a.submitSeconds, 2)} s (each 202 after its record is fsynced: median ${round(submit.median)} ms, p99 ${round(submit.p99)} ms); all finished ${round(a.drainSeconds, 2)} s after the first submit; the ${a.pendingAfterSubmit} still pending when the last was accepted drained at ${Math.round(a.drainRate)}/s; states ${JSON.stringify(a.states)}.`,
    );
    lines.push('');
  }
  if (r.tracing && !r.tracing.error) {
    const t = r.tracing;
    const off = summarize(t.samples.off);
    const on = summarize(t.samples.on);
    const mean = (points) => points.reduce((sum, p) => sum + p.reqPerSec, 0) / points.length;
    lines.push('## Tracing off vs on (one warm node function, requests interleaved between two gateways)');
    lines.push('');
    const cpu = t.cpuUsPerRequest ?? {};
    lines.push(
      '| gateway | sequential GET median ms | p90 | p99 | gateway CPU µs per request | req/s at 8 connections |',
    );
    lines.push('|---|---|---|---|---|---|');
    lines.push(
      `| no OTEL variables (no SDK, no span) | ${round(off.median, 2)} | ${round(off.p90, 2)} | ${round(off.p99, 2)} | ${round(cpu.off) ?? '—'} | ${Math.round(mean(t.throughput.off))} |`,
    );
    lines.push(
      `| OTLP/HTTP export of every span | ${round(on.median, 2)} | ${round(on.p90, 2)} | ${round(on.p99, 2)} | ${round(cpu.on) ?? '—'} | ${Math.round(mean(t.throughput.on))} |`,
    );
    lines.push('');
    lines.push(
      `${t.requests} sequential requests to each; throughput ${t.seconds} s per point, two points each, alternating. Tracing on adds ${round(on.median - off.median, 2)} ms to the median and costs ${round((1 - mean(t.throughput.on) / mean(t.throughput.off)) * 100, 1)} % of the throughput; the collector got ${t.spansExported} spans.`,
    );
    lines.push('');
  }
  if (r.density) {
    const d = r.density;
    const c = summarize(d.cgroupMiB);
    const rss = summarize(d.rssMiB);
    const bare = summarize((r.floor?.node?.rssKb ?? []).map((kb) => kb / 1024));
    lines.push(`## Density: ${d.count} idle node instances`);
    lines.push('');
    lines.push(
      `Started in ${round(d.seconds)} s. Per instance (median): cgroup memory ${round(c?.median)} MiB; process RSS ${round(rss?.median)} MiB, against ${round(bare?.median)} MiB for a bare node hello process (RSS counts the node binary's shared pages in every process). What the host really gave each instance (MemAvailable drop ÷ ${d.count}): ${round(d.hostMiBPerInstance)} MiB.`,
    );
    lines.push('');
  }
  lines.push(
    "Notes: Kiln runs containers with `crun run` (create and start in one call), so crun's create and start are one phase here, together with the shim's boot up to accepting on its socket. Published anchors: Firecracker ≤ 125 ms boot; AWS Lambda init node 124–147, python 77–91, java 200–224 ms; Cloudflare Workers < 5 ms; Fission ~100 ms; OpenFaaS 1–2 s.",
  );
  return `${lines.join('\n')}\n`;
}
