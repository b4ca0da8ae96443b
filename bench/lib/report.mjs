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
  if (r.precreated && !r.precreated.error)
    row(
      '**Kiln cold, created ahead** (`KILN_PRECREATED`: `crun start` only)',
      (l) => r.precreated?.[l]?.samples,
    );
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
  if (r.precreated && !r.precreated.error)
    ratioRow(
      'Kiln cold, created ahead ÷ bare process',
      (l) => r.floor?.[l]?.samples,
      (l) => r.precreated?.[l]?.samples,
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
  warmOverheadSection(r, lines);
  lines.push("## Where a Kiln start goes (median ms, from Kiln's own `Server-Timing`)");
  lines.push('');
  lines.push(
    '| start | language | mount | runtime spawn | crun create+start → shim ready | specialize | init | first response | client total |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const kind of ['cold', 'precreated', 'stem']) {
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
    if (r.throughput.layouts.some((l) => l.kiln.some((k) => k.cpuUs))) {
      lines.push(
        "CPU µs per request, from each process's utime + stime over the point (`/proc/PID/stat`): where a request's cost goes, which req/s on a shared machine does not show. Load generator: autocannon, in the bench's process.",
      );
      lines.push('');
      lines.push(
        '| layout | conns | Kiln: gateway | Kiln: shims | Kiln: load generator | shim alone: shim | shim alone: load generator | bare: server | bare: load generator |',
      );
      lines.push('|---|---|---|---|---|---|---|---|---|');
      const us = (v) => (v === undefined ? '—' : String(v));
      for (const layout of r.throughput.layouts) {
        layout.kiln.forEach((k, i) => {
          const [s, b] = [layout.shim?.[i], layout.bare[i]];
          lines.push(
            `| ${layout.spec} | ${k.connections} | ${us(k.cpuUs?.gateway)} | ${us(k.cpuUs?.shim)} | ${us(k.cpuUs?.client)} | ${us(s?.cpuUs?.shim)} | ${us(s?.cpuUs?.client)} | ${us(b?.cpuUs?.server)} | ${us(b?.cpuUs?.client)} |`,
          );
        });
      }
      lines.push('');
    }
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
  poolSections(r, lines);
  lines.push(
    "Notes: Kiln runs containers with `crun run` (create and start in one call), so crun's create and start are one phase here, together with the shim's boot up to accepting on its socket; for `precreated` (a container created ahead, `KILN_PRECREATED`) the runtime spawn column is `crun start` alone and the next column the shim's boot. Published anchors: Firecracker ≤ 125 ms boot; AWS Lambda init node 124–147, python 77–91, java 200–224 ms; Cloudflare Workers < 5 ms; Fission ~100 ms; OpenFaaS 1–2 s.",
  );
  const failed = Object.entries(r).filter(
    ([, v]) => v && typeof v === 'object' && typeof v.error === 'string',
  );
  if (failed.length) {
    lines.push('');
    lines.push('## Scenarios that failed in this run');
    lines.push('');
    for (const [name, v] of failed) lines.push(`- \`${name}\`: ${v.error.split('\n')[0]}`);
  }
  return `${lines.join('\n')}\n`;
}

/** issue 9's goal for the gateway's hop on a warm request, in ms over the shim hit directly. */
const WARM_OVERHEAD_GOAL = { p50: 0.3, p99: 1.5 };

/**
 * The gateway's overhead on a warm request (bench/scenarios/warm.mjs): a percentile of the
 * requests through the gateway minus the same percentile straight to the shim, the pairs
 * interleaved, against issue 9's goal.
 */
function warmOverheadSection(r, lines) {
  const measured = LANGS.filter((l) => r.warm?.[l]?.viaGateway?.length && r.warm[l].direct?.length);
  if (measured.length === 0) return;
  lines.push('## Gateway overhead on a warm request (ms; sequential GETs, gateway and shim interleaved)');
  lines.push('');
  lines.push(
    `| language | pairs | gateway p50 / p99 | shim socket p50 / p99 | **overhead p50** (goal ≤ ${WARM_OVERHEAD_GOAL.p50}) | **overhead p99** (goal ≤ ${WARM_OVERHEAD_GOAL.p99}) | median of pair differences | over 2 ms: gateway / shim | gateway CPU µs per request | 1-min load before / after |`,
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  const verdict = (ms, goal) => `${round(ms, 2)} ${ms <= goal ? '✓' : '✗'}`;
  for (const l of measured) {
    const { viaGateway, direct, gatewayCpuUsPerRequest, load } = r.warm[l];
    const g = summarize(viaGateway);
    const d = summarize(direct);
    const pairs = summarize(viaGateway.map((ms, i) => ms - (direct[i] ?? ms)));
    const over2 = (samples) =>
      `${round((samples.filter((ms) => ms > 2).length / samples.length) * 100, 1)} %`;
    lines.push(
      `| ${l} | ${g.n} | ${round(g.median, 2)} / ${round(g.p99, 2)} | ${round(d.median, 2)} / ${round(d.p99, 2)} | ${verdict(g.median - d.median, WARM_OVERHEAD_GOAL.p50)} | ${verdict(g.p99 - d.p99, WARM_OVERHEAD_GOAL.p99)} | ${round(pairs.median, 2)} | ${over2(viaGateway)} / ${over2(direct)} | ${gatewayCpuUsPerRequest === undefined ? '—' : Math.round(gatewayCpuUsPerRequest)} | ${load ? load.map((x) => round(x, 2)).join(' / ') : '—'} |`,
    );
  }
  lines.push('');
  lines.push(
    "Overhead: the gateway's percentile minus the shim's over the same pairs (one request each way, alternating which goes first, after a warm-up that lets the gateway's JIT settle). Both sides share the machine's other work, which lengthens the gateway's tail more: its request wakes three processes, the shim's two.",
  );
  lines.push('');
}

/** A density run's settled figure: none for results saved before it was measured, or a `--quick` run's (no wait). */
function settled(d) {
  return d.settleSeconds ? `${round(d.hostMiBPerInstance)} (after ${d.settleSeconds} s idle)` : '—';
}

/** Burst, thaw and density (bench/scenarios/pool.mjs); each only if it ran and did not fail. */
function poolSections(r, lines) {
  const ok = (x) => x && !x.error;
  const bareNode = r.floor?.node?.samples && summarize(r.floor.node.samples);
  if (ok(r.burst)) {
    lines.push('## Burst: 64 concurrent first requests to a function at zero (node, stem cells off)');
    lines.push('');
    lines.push(
      '| maxInstances × concurrency | rounds | all answered, median ms | ÷ one bare process start | request p50 / p99 ms | most instances (≤ maxInstances) | non-200 | starts reported |',
    );
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const b of r.burst.layouts) {
      const total = summarize(b.totals);
      const lat = summarize(b.latencies);
      const most = Math.max(b.mostInstances, b.mostAnswering);
      lines.push(
        `| ${b.maxInstances} × ${b.concurrency} | ${b.rounds} | ${round(total.median)} | ${bareNode ? `${round(total.median / bareNode.median, 1)}×` : '—'} | ${round(lat.median)} / ${round(lat.p99)} | ${most} | ${b.non200} | ${Object.entries(
          b.starts,
        )
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')} |`,
      );
    }
    lines.push('');
  }
  if (ok(r.thaw)) {
    const thaw = summarize(r.thaw.thaw);
    const frozen = summarize(r.thaw.frozen);
    const warm = summarize(r.thaw.warm);
    lines.push('## Thawing a frozen instance (node, through the gateway, sequential)');
    lines.push('');
    lines.push('| request | n | median ms | p90 | p99 |');
    lines.push('|---|---|---|---|---|');
    lines.push(
      `| to a frozen instance (client total) | ${frozen.n} | ${round(frozen.median, 2)} | ${round(frozen.p90, 2)} | ${round(frozen.p99, 2)} |`,
    );
    lines.push(
      `| its \`thaw\` phase (\`Server-Timing\`) | ${thaw.n} | ${round(thaw.median, 2)} | ${round(thaw.p90, 2)} | ${round(thaw.p99, 2)} |`,
    );
    lines.push(
      `| the next one, not frozen (client total) | ${warm.n} | ${round(warm.median, 2)} | ${round(warm.p90, 2)} | ${round(warm.p99, 2)} |`,
    );
    lines.push('');
  }
  if (ok(r.density)) {
    // Results saved before python and java were measured hold one node run at the top.
    const runs = r.density.count !== undefined ? { node: r.density } : r.density;
    const bare = summarize((r.floor?.node?.rssKb ?? []).map((kb) => kb / 1024));
    lines.push('## Density: idle instances');
    lines.push('');
    lines.push(
      '| language | instances | functions | started in s | host MiB per instance (MemAvailable drop ÷ N), settled | the same 2 s after the starts | cgroup memory MiB (median) | process RSS MiB (median) | answered a request afterwards |',
    );
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const [language, d] of Object.entries(runs)) {
      if (!d || d.error) continue;
      lines.push(
        `| ${language} | ${d.count} | ${d.functions ?? 1} | ${round(d.seconds)} | ${settled(d)} | ${round(d.hostMiBPerInstanceAtOnce ?? d.hostMiBPerInstance)} | ${round(summarize(d.cgroupMiB)?.median)} | ${round(summarize(d.rssMiB)?.median)} | ${d.answered ?? '—'} of ${d.count}${d.failures ? ` (${d.failures} failed requests)` : ''} |`,
      );
    }
    lines.push('');
    lines.push(
      `RSS counts shared pages (the runtime's binary and libraries) in every process${bare ? `; a bare node hello process has ${round(bare.median)} MiB` : ''}. \`minInstances\` is capped at 100 per function, so N instances are ⌈N/100⌉ functions of the same code. MemAvailable is the host's: other work on the machine moves it too.`,
    );
    lines.push('');
  }
}
