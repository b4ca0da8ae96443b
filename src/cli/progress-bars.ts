import type { TransferEvent, TransferProgress } from '../image/registry/transfer-progress.js';

const WIDTH = 24;

/**
 * Progress bars for push and pull, one line per blob, redrawn in place on a TTY (ANSI
 * cursor-up); nothing at all when stdout is not a terminal (scripts, CI logs).
 */
export function progressBars(out: NodeJS.WriteStream = process.stdout): TransferProgress | undefined {
  if (!out.isTTY) return undefined;
  const rows = new Map<string, { phase: TransferEvent['phase']; done: number; total: number }>();
  let drawn = 0;
  let last = 0;
  const draw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    if (drawn) out.write(`\x1b[${drawn}A`);
    for (const [digest, row] of rows) {
      const frac = row.total ? Math.min(1, row.done / row.total) : 1;
      const bar = '='.repeat(Math.round(frac * WIDTH)).padEnd(WIDTH, ' ');
      const label = {
        compress: 'compressing',
        upload: 'pushing',
        download: 'pulling',
        exists: 'exists',
        mounted: 'mounted',
        done: 'done',
      }[row.phase];
      out.write(
        `\x1b[2K${digest.slice(7, 19)}  ${label.padEnd(11)} [${bar}] ${mb(row.done)}/${mb(row.total)}\n`,
      );
    }
    drawn = rows.size;
  };
  return (e) => {
    const row = rows.get(e.digest) ?? { phase: e.phase, done: 0, total: e.total };
    if (row.phase !== e.phase && e.phase !== 'done') row.done = 0;
    row.phase = e.phase;
    row.total = e.total;
    row.done =
      e.phase === 'done' || e.phase === 'exists' || e.phase === 'mounted' ? e.total : row.done + e.bytes;
    rows.set(e.digest, row);
    draw(e.phase !== 'upload' && e.phase !== 'download' && e.phase !== 'compress');
  };
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
