// bench/results/latest.svg: medians per language and scenario as horizontal bars on a log
// scale, so 0.3 ms and 4 s fit on one chart.
import { summarize } from './stats.mjs';

const SERIES = [
  { key: 'floor', label: 'bare process', color: '#9e9e9e', pick: (r, l) => r.floor?.[l]?.samples },
  { key: 'warm', label: 'Kiln warm', color: '#2e7d32', pick: (r, l) => r.warm?.[l]?.viaGateway },
  { key: 'stem', label: 'Kiln stem', color: '#66bb6a', pick: (r, l) => r.stem?.[l]?.samples },
  { key: 'cold', label: 'Kiln cold', color: '#1565c0', pick: (r, l) => r.cold?.[l]?.samples },
  {
    key: 'podman',
    label: 'podman run',
    color: '#8e24aa',
    pick: (r, l) => r.containers?.podman?.languages?.[l]?.samples,
  },
  {
    key: 'docker',
    label: 'docker run',
    color: '#ef6c00',
    pick: (r, l) => r.containers?.docker?.languages?.[l]?.samples,
  },
  { key: 'vm', label: 'qemu microVM', color: '#c62828', pick: (r, l) => r.vm?.languages?.[l]?.samples },
];
const LANGS = ['node', 'python', 'java'];

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

export function svg(r) {
  const left = 150;
  const width = 900;
  const plot = width - left - 40;
  const barH = 14;
  const groupGap = 26;
  const minLog = -1; // 0.1 ms
  const maxLog = 4.5; // ~31 s
  const x = (ms) => left + ((Math.log10(Math.max(ms, 0.1)) - minLog) / (maxLog - minLog)) * plot;
  const out = [];
  let y = 70;
  for (const l of LANGS) {
    const bars = SERIES.map((s) => ({ s, stats: s.pick(r, l) && summarize(s.pick(r, l)) })).filter(
      (b) => b.stats,
    );
    if (!bars.length) continue;
    out.push(`<text x="10" y="${y + 10}" font-weight="bold" font-size="14">${l}</text>`);
    for (const { s, stats } of bars) {
      const w = x(stats.median) - left;
      out.push(`<text x="${left - 6}" y="${y + 11}" text-anchor="end" font-size="11">${esc(s.label)}</text>`);
      out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${s.color}"/>`);
      const label = stats.median < 10 ? stats.median.toFixed(1) : Math.round(stats.median);
      out.push(`<text x="${(left + w + 4).toFixed(1)}" y="${y + 11}" font-size="11">${label} ms</text>`);
      y += barH + 4;
    }
    y += groupGap;
  }
  const height = y + 30;
  const grid = [];
  for (let p = minLog; p <= Math.floor(maxLog); p++) {
    const gx = x(10 ** p);
    grid.push(`<line x1="${gx}" y1="50" x2="${gx}" y2="${height - 30}" stroke="#ddd"/>`);
    grid.push(
      `<text x="${gx}" y="${height - 14}" text-anchor="middle" font-size="11">${10 ** p >= 1 ? 10 ** p : 10 ** p} ms</text>`,
    );
  }
  const title = `Time to first response, median (log scale) — ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.startedAt.slice(0, 10)}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="42" font-size="11" fill="#555">${esc(r.vmLabel ?? '')}</text>`,
    ...grid,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
