// The shim gives its spare heap back to the host when nothing waits on it: before it answers
// the /init of an instance started ahead of demand (`prewarmed`, docs/DESIGN.md §5), and when
// it goes idle after requests, before the gateway freezes it (src/kiln.ts: frozen after
// KILN_FREEZE_AFTER_MS, 50 ms by default). Measured on node 22.23 (issue 9, density): an idle
// shim after /init holds 8.6 MiB of anonymous memory, 1.7 MiB of it young-generation pages
// (0.7 MiB live) that V8 keeps committed; a memory-reducing GC shrinks them to 0.3 MiB and takes
// the 8.6 to 7.8 MiB, in ~12 ms. A regular major GC leaves new space as it is, and V8 flags on
// node's command line cost more than they save (any flag in V8's flag hash makes node compile
// its lazily loaded builtins without their code cache: +1.5 MiB of malloc heap). Node has no API
// for that GC: V8's gc extension has it (`flavor: 'last-resort'`, LowMemoryNotification), taken
// from a throwaway context with --expose-gc set only while the context is made, so the flag hash
// and the handler's own `global.gc` stay as they were.
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Idle this long (no request in flight) before compacting: longer than the 0-6 ms the shim
 * waits between the health probe, /init and a cold start's request (docs/DESIGN.md §4), so a
 * start never waits behind it, and short enough to end before the 50 ms freeze on a quiet host.
 */
const IDLE_MS = 20;
/** Heap growth since the last compaction that makes another worth its ~12 ms. */
const MIN_GROWTH_BYTES = 512 * 1024;
/** Idle compactions take at most this share of the instance's wall time, whatever its traffic. */
const MAX_TIME_SHARE = 0.02;

/**
 * Whether an idle instance should compact now: its heap grew enough since the last compaction,
 * and the time since that one ended is long enough that compactions stay within
 * MAX_TIME_SHARE of the instance's time.
 */
export function shouldCompact({ heapBytes, compactedHeapBytes, now, lastEnd, lastTookMs }) {
  if (heapBytes - compactedHeapBytes < MIN_GROWTH_BYTES) return false;
  return now - lastEnd >= lastTookMs / MAX_TIME_SHARE;
}

const physicalHeapBytes = () => v8.getHeapStatistics().total_physical_size;

/** malloc_trim(3), from the shim's preloaded library once `trimMallocWith` found it; else nothing. */
let trimMalloc = () => {};

/**
 * Use the preloaded library `path` (runtimes/node/native/dense-memory.c) to give glibc's free
 * heap pages back after each compaction: V8's GC frees what it had malloc'd, but glibc keeps
 * the pages (measured on idle instances: -0.1 MiB each). Loaded as a Node-API addon, which
 * finds the copy already in the process.
 */
export function trimMallocWith(path) {
  const addon = { exports: {} };
  try {
    process.dlopen(addon, path);
  } catch {
    // Addons refused (a function's NODE_OPTIONS=--no-addons, the permission model): the shim
    // starts without the trim, which only saves memory.
    return;
  }
  if (typeof addon.exports.trimMalloc === 'function') trimMalloc = addon.exports.trimMalloc;
}

/** The last compaction: the heap it left, when it ended, how long it took. */
const last = { compactedHeapBytes: 0, lastEnd: Number.NEGATIVE_INFINITY, lastTookMs: 0 };

/**
 * Passes before a prewarmed instance answers its /init. Measured on node 22.23 (issue 9,
 * density, 100 idle hello-node instances): one pass leaves the shim at 7.76 MiB of anonymous
 * memory, four at 7.47 (on the host: 6.92 -> 6.46 MiB; three passes get most of it, a fifth
 * nothing more), about 10 ms each. Code run once at boot (module bodies, the loader, /init)
 * loses its bytecode after it has aged through a few full GCs without running (V8's bytecode
 * flushing). Only there: its first request compiles again what it needs (measured: 30 -> 37 ms
 * for a first request that loads undici anyway), while an instance idle between requests
 * keeps its request path compiled with one pass.
 */
export const PREWARMED_PASSES = 4;

/** V8's memory-reducing full GC (LowMemoryNotification), now, `passes` times. */
export function compactHeap(passes = 1) {
  const started = performance.now();
  v8.setFlagsFromString('--expose-gc');
  let gc;
  try {
    gc = vm.runInNewContext('gc');
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  for (let i = 0; i < passes; i++) gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  trimMalloc();
  last.lastEnd = performance.now();
  last.lastTookMs = last.lastEnd - started;
  last.compactedHeapBytes = physicalHeapBytes();
}

function compactIfWorthIt() {
  if (shouldCompact({ heapBytes: physicalHeapBytes(), now: performance.now(), ...last })) compactHeap();
}

/**
 * `serve` wrapped so that once no request has been in flight for IDLE_MS, the heap is
 * compacted if shouldCompact says it is worth it. A request arriving first cancels it. Only
 * requests that began after /init count (`initialized`): before it, and between /init and a
 * cold start's first request, someone is about to call and the instance is not idle.
 */
export function compactingWhenIdle(serve, initialized) {
  let inFlight = 0;
  let timer;
  return async (req, res) => {
    const served = initialized();
    inFlight++;
    clearTimeout(timer);
    try {
      await serve(req, res);
    } finally {
      if (--inFlight === 0 && served) timer = setTimeout(compactIfWorthIt, IDLE_MS).unref();
    }
  };
}
