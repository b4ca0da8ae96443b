/**
 * One request's (or deploy's) phases: where its time went. It is the single source of both
 * the `Server-Timing` header and the trace's child spans (`trace-emitter.ts`), so the two
 * never disagree: each span is a phase with the same start and end.
 *
 * Times are `performance.now()` ms. A phase with `group: true` only groups others in the
 * trace (`acquire` around a start's phases) and is left out of `Server-Timing`, whose
 * entries stay the leaves the benchmarks and clients read (`queue`, `mount`, …, `fn`).
 */
export interface Phase {
  /** The `Server-Timing` name: a token (RFC 9110 §5.6.2), e.g. `mount`. */
  name: string;
  /** The span's name; the phase's name when absent. */
  spanName?: string;
  start: number;
  end: number;
  /** The name of the enclosing phase, for the trace's nesting. */
  parent?: string;
  group?: boolean;
  /**
   * In `Server-Timing` but not a span of this trace: a start that happened before the
   * request (a deploy's trial start, `minInstances`), whose spans are in that trace.
   */
  untraced?: boolean;
  attributes?: Record<string, string | number | boolean>;
}

export type PhaseOptions = Omit<Phase, 'name' | 'start' | 'end'>;

/** A phase begun and not yet ended: `end()` records it and answers its duration. */
export interface OpenPhase {
  readonly start: number;
  end(): number;
}

export class PhaseRecorder {
  readonly phases: Phase[] = [];
  readonly startedAt = performance.now();

  record(name: string, start: number, end: number, options: PhaseOptions = {}): void {
    this.phases.push({ name, start, end, ...options });
  }

  begin(name: string, options: PhaseOptions = {}): OpenPhase {
    const start = performance.now();
    let ended: number | undefined;
    return {
      start,
      end: () => {
        if (ended === undefined) {
          ended = performance.now();
          this.record(name, start, ended, options);
        }
        return ended - start;
      },
    };
  }

  /** Time `work` as one phase; a failed phase is recorded too (it took that long). */
  async time<T>(name: string, work: () => Promise<T>, options: PhaseOptions = {}): Promise<T> {
    const phase = this.begin(name, options);
    try {
      return await work();
    } finally {
      phase.end();
    }
  }

  /**
   * Phases known only by their durations, run one after another and ending at `end`
   * (a start's phases as the pool reports them), laid back to back in the given order.
   */
  recordSequence(
    durations: Record<string, number>,
    end: number,
    options: PhaseOptions = {},
    spanNames: Record<string, string> = {},
  ): void {
    let at = end - Object.values(durations).reduce((sum, ms) => sum + ms, 0);
    for (const [name, ms] of Object.entries(durations)) {
      this.record(name, at, at + ms, { ...options, spanName: spanNames[name] ?? options.spanName });
      at += ms;
    }
  }

  /** Duration of each phase that is not a group, in ms, in the order they were recorded. */
  durations(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const phase of this.phases) if (!phase.group) out[phase.name] = phase.end - phase.start;
    return out;
  }

  /** `queue;dur=0.12, mount;dur=6.10, …` (W3C Server Timing), phases that are not groups. */
  serverTiming(): string {
    // One string built in place, not filter/map/join's two arrays: it runs once per invoke.
    let out = '';
    for (const phase of this.phases) {
      if (phase.group) continue;
      out += `${out === '' ? '' : ', '}${phase.name};dur=${(phase.end - phase.start).toFixed(2)}`;
    }
    return out;
  }
}
