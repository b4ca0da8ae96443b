import type { FunctionVersion } from '../functions/function-store.js';
import type { CreatedContainer } from '../runtime/container-runtime.js';
import type { ContainerLauncher } from './container-launcher.js';
import type { StartAdmission } from './start-admission.js';

export interface CreatedContainerInfo {
  id: string;
  function: string;
  version: number;
  /** Still being created (the runtime's `create` has not returned yet). */
  creating: boolean;
}

interface Entry {
  fn: FunctionVersion;
  /** Set once the create has finished. */
  created?: CreatedContainer;
  making: Promise<CreatedContainer | undefined>;
  dropped: boolean;
}

/**
 * Cold starts' containers created ahead (issue 17): at most one per function version, and
 * at most `limit` on the host (each holds an overlay mount, a cgroup, a uid lease, two
 * pipes and a waiting runtime init plus its reaper), made for a version that has just lost
 * its last instance, so that its next cold start only runs the runtime's `start` and
 * waits for the shim. A created container is taken once (`take`); one of a version
 * retired or removed is discarded (`drop`: killed and `delete`d), all of them at
 * `shutdown`, and after a crash `ContainerRuntime.recover` removes them like any container.
 */
export class CreatedContainers {
  private readonly byVersion = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly launcher: ContainerLauncher,
    /** Host-wide bound (`KILN_PRECREATED`); 0 turns creating ahead off. */
    readonly limit: number,
    private readonly starts: StartAdmission,
    private readonly log: (line: string) => void = (line) => console.error(`kiln: ${line}`),
  ) {}

  /** Create one for `fn` in the background, unless it has one or the host holds `limit`. */
  fill(fn: FunctionVersion): void {
    const key = keyOf(fn);
    if (this.closed || this.byVersion.has(key) || this.byVersion.size >= this.limit) return;
    const entry: Entry = { fn, dropped: false, making: Promise.resolve(undefined) };
    this.byVersion.set(key, entry);
    entry.making = this.starts
      .run(async () => (entry.dropped ? undefined : this.launcher.createFunction(fn)), 'background')
      .then(
        (created) => {
          if (!created) return undefined;
          if (entry.dropped || this.closed) {
            void created.discard();
            return undefined;
          }
          entry.created = created;
          // One whose waiting process died (killed from outside) is forgotten, not handed out.
          void created.container.exited.then(() => this.forget(key, entry));
          return created;
        },
        (err: unknown) => {
          this.log(
            `creating a container ahead for ${fn.spec.name} v${fn.version} failed: ${(err as Error).message}`,
          );
          this.forget(key, entry);
          return undefined;
        },
      );
  }

  /**
   * `fn`'s created container, taken (no one else gets it): waits for one still being
   * created, since its create is already under way; undefined when there is none.
   */
  async take(fn: FunctionVersion): Promise<CreatedContainer | undefined> {
    const key = keyOf(fn);
    const entry = this.byVersion.get(key);
    if (!entry || entry.dropped) return undefined;
    if (!sameVersion(entry.fn, fn)) {
      // Made for an earlier function of that name and version number (version numbers start
      // at 1 again after `kiln rm`): its image, spec and secrets are not `fn`'s.
      await this.discard(key, entry);
      return undefined;
    }
    this.byVersion.delete(key);
    return entry.making;
  }

  /** Discard those of `name` whose versions are not in `keep` (a redeploy, `kiln rm`). */
  async drop(name: string, keep: ReadonlySet<number> = new Set()): Promise<void> {
    const doomed = [...this.byVersion.entries()].filter(
      ([, e]) => e.fn.spec.name === name && !keep.has(e.fn.version),
    );
    await Promise.all(doomed.map(([key, entry]) => this.discard(key, entry)));
  }

  list(): CreatedContainerInfo[] {
    return [...this.byVersion.values()].map((e) => ({
      id: e.created?.container.id ?? '',
      function: e.fn.spec.name,
      version: e.fn.version,
      creating: e.created === undefined,
    }));
  }

  /** The images they hold mounted (or are mounting): what a prune must keep. */
  imagesInUse(): { function: string; version: number; image: string }[] {
    return [...this.byVersion.values()].map((e) => ({
      function: e.fn.spec.name,
      version: e.fn.version,
      image: e.fn.image,
    }));
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.byVersion.entries()].map(([key, entry]) => this.discard(key, entry)));
  }

  private async discard(key: string, entry: Entry): Promise<void> {
    entry.dropped = true;
    this.forget(key, entry);
    const created = await entry.making;
    await created?.discard();
  }

  private forget(key: string, entry: Entry): void {
    if (this.byVersion.get(key) === entry) this.byVersion.delete(key);
  }
}

function keyOf(fn: FunctionVersion): string {
  return `${fn.spec.name}@${fn.version}`;
}

/**
 * The same code and spec: a name and number alone are reused after `kiln rm`. Not
 * `createdAt`: a deploy's trial start and its recorded version differ in it (measured: 53 ms).
 */
function sameVersion(a: FunctionVersion, b: FunctionVersion): boolean {
  return a.image === b.image && JSON.stringify(a.spec) === JSON.stringify(b.spec);
}
