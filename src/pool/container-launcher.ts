import type { FunctionVersion } from '../functions/function-store.js';
import type { LanguageName } from '../languages/registry.js';
import type { Container } from '../runtime/container.js';
import type { CreatedContainer } from '../runtime/container-runtime.js';

/**
 * What the pool needs to get containers, declared where it is used: the pool decides
 * which start a request gets (warm, stem, cold), a launcher makes it happen.
 * `ImageLauncher` runs images from the image store on the container runtime; the pool's
 * unit tests launch fake shims instead.
 */
export interface ContainerLauncher {
  /** A cold start: a new container running the version's own image, its shim listening. */
  startFunction(fn: FunctionVersion): Promise<Container>;
  /**
   * A cold start's container created ahead (issue 17): its `start` runs the process and
   * resolves once its shim listens, ready for the version like `startFunction`'s.
   */
  createFunction(fn: FunctionVersion): Promise<CreatedContainer>;
  /** A new stem cell: the language's base image with an empty `/fn`, its shim warming up. */
  startStemCell(language: LanguageName): Promise<StemCellStart>;
  /** The base layers (digests, bottom first) the version's image is built on. */
  baseLayersOf(fn: FunctionVersion): Promise<string[]>;
  /** Make a stem cell the version's: its code into `/fn`, its limits onto the cgroup. */
  specialize(container: Container, fn: FunctionVersion): Promise<void>;
}

export interface StemCellStart {
  container: Container;
  /** The base image layers it runs: only a function built on the same base may use it. */
  baseLayers: string[];
}
