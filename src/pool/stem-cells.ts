import type { BaseImageBuilder } from '../build/base-images.js';
import type { ImageStore } from '../image/image-store.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import { type LanguageName, languageNamed } from '../languages/registry.js';
import type { Container } from '../runtime/container.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { startFromImage } from './image-container.js';

/** A prewarmed generic container: runtime and shim started, no function yet. */
export interface StemCell {
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

/** Generous until specialization sets the function's own limits. */
const STEM_LIMITS = { memoryBytes: 512 * 1024 * 1024, pids: 256 };

/**
 * Keeps `perLanguage` stem cells ready for each language that has at least one function
 * (docs/DESIGN.md §4). Taking one starts a refill in the background; a taken cell never comes
 * back: once specialized it belongs to that function version for life.
 */
export class StemCellPool {
  private readonly ready = new Map<LanguageName, StemCell[]>();
  private readonly starting = new Map<LanguageName, number>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly wanted = new Set<LanguageName>();
  private closed = false;

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly baseImages: BaseImageBuilder,
    readonly perLanguage: number,
  ) {}

  /** Keep stem cells of `language` from now on. */
  want(language: LanguageName): void {
    if (this.perLanguage <= 0 || this.closed) return;
    this.wanted.add(language);
    this.refill(language);
  }

  /** A ready stem cell running exactly `baseLayers`, or undefined. */
  take(language: LanguageName, baseLayers: string[]): StemCell | undefined {
    const cells = this.ready.get(language) ?? [];
    const index = cells.findIndex((c) => sameLayers(c.baseLayers, baseLayers));
    if (index < 0) return undefined;
    const [cell] = cells.splice(index, 1);
    this.refill(language);
    return cell;
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

  /** Resolves when every language wanted has its full count of ready cells. */
  async whenFull(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const full = [...this.wanted].every((l) => (this.ready.get(l)?.length ?? 0) >= this.perLanguage);
      if (full) return;
      await new Promise((r) => setTimeout(r, 20));
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
      const started: Promise<void> = this.startOne(language)
        .then((cell) => {
          if (this.closed) return cell.container.stop().then(() => undefined);
          const cells = this.ready.get(language) ?? [];
          cells.push(cell);
          this.ready.set(language, cells);
          // A cell that dies while waiting leaves the pool, and another takes its place.
          void cell.container.exited.then(() => {
            const list = this.ready.get(language) ?? [];
            const at = list.indexOf(cell);
            if (at >= 0) {
              list.splice(at, 1);
              this.refill(language);
            }
          });
        })
        .catch((err: Error) => console.error(`kiln: a ${language} stem cell did not start: ${err.message}`))
        .finally(() => {
          this.starting.set(language, (this.starting.get(language) ?? 1) - 1);
          this.inflight.delete(started);
        });
      this.inflight.add(started);
    }
  }

  private async startOne(language: LanguageName): Promise<StemCell> {
    const base = await this.baseImages.ensure(language);
    const container = await startFromImage(this.runtime, this.images, this.snapshots, base, {
      env: [...languageNamed(language).stemCellEnv],
      hostname: 'kiln',
      limits: STEM_LIMITS,
      mountFnDir: true,
    });
    return { language, container, baseLayers: base.manifest.layers.map((l) => l.digest) };
  }
}

function sameLayers(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
