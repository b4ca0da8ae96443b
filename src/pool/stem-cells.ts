import { setTimeout as sleep } from 'node:timers/promises';
import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import type { LanguageName } from '../languages/registry.js';
import type { Container } from '../runtime/container.js';
import type { ContainerLauncher } from './container-launcher.js';
import type { StartAdmission } from './start-admission.js';

/** A prewarmed generic container: runtime and shim started, no function yet. */
interface StemCell {
  language: LanguageName;
  container: Container;
  /** The base image layers it runs: only a function built on the same base may use it. */
  baseLayers: string[];
}

export interface StemCellInfo {
  id: string;
  language: LanguageName;
  uptimeMs: number;
  memoryBytes: number;
}

/**
 * Keeps `perLanguage` stem cells ready for each language that has at least one function
 * (docs/DESIGN.md §4). `specialize` takes one for a function version: its code goes into
 * the cell's `/fn` and its limits onto the cell's cgroup; the caller then loads the
 * handler. A taken cell never comes back: once specialized it belongs to that function
 * version for life, and a cell whose specialization failed is stopped (it may hold part
 * of the function's code). Every take is refilled in the background (`replenish`).
 */
export class StemCellPool {
  private readonly ready = new Map<LanguageName, StemCell[]>();
  private readonly starting = new Map<LanguageName, number>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly wanted = new Set<LanguageName>();
  private closed = false;

  constructor(
    private readonly launcher: ContainerLauncher,
    readonly perLanguage: number,
    private readonly log: (line: string) => void = (line) => console.error(`kiln: ${line}`),
    /** The host's bound on container starts; refills wait behind starts for requests. */
    private readonly starts?: StartAdmission,
  ) {}

  /** Keep stem cells of `language` from now on. */
  want(language: LanguageName): void {
    if (this.perLanguage <= 0 || this.closed) return;
    this.wanted.add(language);
    this.refill(language);
  }

  /**
   * A ready stem cell running `fn`'s base layers, specialized for `fn`; or undefined when
   * none is ready or specializing failed, and the caller starts a cold container instead.
   */
  async specialize(fn: FunctionVersion): Promise<Container | undefined> {
    // A cell's mounts were made when it started, before anyone knew its function: a volume
    // cannot be added to them (Node has no open_tree/move_mount to graft one into a running
    // container's mount namespace), so a function with volumes always starts cold.
    if (fn.spec.volumes?.length) return undefined;
    const language = fn.spec.runtime;
    if (!this.ready.get(language)?.length) return undefined;
    const baseLayers = await this.launcher.baseLayersOf(fn);
    const cells = this.ready.get(language) ?? [];
    const index = cells.findIndex((c) => sameLayers(c.baseLayers, baseLayers));
    if (index < 0) return undefined;
    const [cell] = cells.splice(index, 1);
    if (!cell) return undefined;
    try {
      await this.launcher.specialize(cell.container, fn);
      return cell.container;
    } catch (err) {
      this.log(
        `specializing stem cell ${cell.container.id} for ${fn.spec.name} v${fn.version} failed, starting cold instead: ${(err as Error).message}`,
      );
      this.replenish(language);
      await cell.container.stop();
      return undefined;
    }
  }

  /**
   * Start the cells that replace those taken: the caller of `specialize` calls this once the
   * taken cell has loaded its handler (or failed to). Started at the take, a replacement's
   * crun and runtime boot ran beside that cell's specialize and init on the same cores and
   * made the request wait for them (issue 17: a stem start's phases under a refill).
   */
  replenish(language: LanguageName): void {
    this.refill(language);
  }

  async list(): Promise<StemCellInfo[]> {
    const cells = [...this.ready.values()].flat();
    return Promise.all(
      cells.map(async (c) => ({
        id: c.container.id,
        language: c.language,
        uptimeMs: Date.now() - c.container.startedAt,
        memoryBytes: (await c.container.cgroup.stats()).memoryBytes,
      })),
    );
  }

  /** The base layers ready cells run (a prune keeps them). */
  layersInUse(): string[] {
    return [...new Set([...this.ready.values()].flat().flatMap((c) => c.baseLayers))];
  }

  /** Resolves when every language wanted has its full count of ready cells; throws if that takes longer than `timeoutMs`. */
  async whenFull(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const short = [...this.wanted].filter((l) => (this.ready.get(l)?.length ?? 0) < this.perLanguage);
      if (short.length === 0) return;
      if (Date.now() >= deadline) {
        const have = short
          .map((l) => `${l} ${this.ready.get(l)?.length ?? 0}/${this.perLanguage}`)
          .join(', ');
        throw new KilnError(
          'stem_cells_not_ready',
          `stem cells not ready after ${timeoutMs} ms: ${have}`,
          503,
        );
      }
      await sleep(20);
    }
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    // Cells still starting stop themselves when they finish (closed is set): wait for them.
    await Promise.all([...this.inflight]);
    const cells = [...this.ready.values()].flat();
    this.ready.clear();
    await Promise.all(cells.map((c) => c.container.stop()));
  }

  private refill(language: LanguageName): void {
    if (this.closed || !this.wanted.has(language)) return;
    const have = (this.ready.get(language)?.length ?? 0) + (this.starting.get(language) ?? 0);
    for (let i = have; i < this.perLanguage; i++) {
      this.starting.set(language, (this.starting.get(language) ?? 0) + 1);
      const start = () => this.launcher.startStemCell(language);
      const started: Promise<void> = (this.starts ? this.starts.run(start, 'background') : start())
        .then(({ container, baseLayers }) => {
          if (this.closed) return container.stop().then(() => undefined);
          const cell: StemCell = { language, container, baseLayers };
          const cells = this.ready.get(language) ?? [];
          cells.push(cell);
          this.ready.set(language, cells);
          // A cell that dies while waiting leaves the pool, and another takes its place.
          void container.exited.then(() => {
            const list = this.ready.get(language) ?? [];
            const at = list.indexOf(cell);
            if (at >= 0) {
              list.splice(at, 1);
              this.refill(language);
            }
          });
        })
        .catch((err: Error) => this.log(`a ${language} stem cell did not start: ${err.message}`))
        .finally(() => {
          this.starting.set(language, (this.starting.get(language) ?? 1) - 1);
          this.inflight.delete(started);
        });
      this.inflight.add(started);
    }
  }
}

function sameLayers(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
