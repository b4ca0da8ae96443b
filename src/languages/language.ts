import type { BuilderImage } from '../build/base-images.js';
import type { BuildSandbox } from '../build/sandbox.js';
import type { Recipe } from './recipe.js';

/**
 * A language Kiln runs functions in. Everything language-specific lives behind this
 * interface, in `src/languages/<name>/`, with the in-container shim and its recipe in
 * `runtimes/<name>/`; `registry.ts` lists the languages. The rest of Kiln (base images,
 * deploys, stem cells, the CLI) asks the language and never names one.
 */
export interface Language<N extends string = string> {
  /** The spec's `runtime` value, and the name of its folders in src/languages and runtimes. */
  readonly name: N;
  /** How its base image is made (the language layer, entrypoint, env): `runtimes/<name>/recipe.json`. */
  recipe(runtimesDir: string): Promise<Recipe>;
  /**
   * Fill the shim layer's `/opt/kiln/shim` from `runtimes/<name>/` (the layer's mount
   * points are there already). May compile in the builder and run the language in a
   * chroot of the lower layers (the shim is Kiln's own code).
   */
  buildShim(input: ShimBuildInput): Promise<void>;
  /**
   * Build an unpacked bundle into what becomes the function's `/fn`. Every step that
   * reads the bundle's content (a compiler, a bundler, resolving an entry) runs in
   * `input.sandbox` (docs/DESIGN.md §8); on the host a language only lists names and
   * copies files with `copyCheckedTree`.
   */
  buildFunction(input: FunctionBuildInput): Promise<FunctionBuild>;
  /** What the spec's `handler` means in this language. */
  readonly handler: HandlerRules;
  /**
   * Env a stem cell's shim starts with: `KILN_WARMUP=1` asks it to warm the runtime's lazy
   * parts before it counts as ready (docs/DESIGN.md §4). A shim that has nothing to warm
   * ignores it.
   */
  readonly stemCellEnv: readonly string[];
  /**
   * Lambda's runtime identifier for what the base image runs (`nodejs22.x`, `python3.11`,
   * `java17`): `AWS_EXECUTION_ENV` is `AWS_Lambda_` + this (src/pool/lambda-environment.ts).
   */
  readonly lambdaRuntime: string;
  /** Whether a function dir's top-level file names look like this language (`kiln deploy` without `--runtime`). */
  detect(files: readonly string[]): boolean;
}

export interface HandlerRules {
  /** The forms a handler takes, for help and error messages. */
  form: string;
  /** The handler when the spec names none; undefined: the build finds the entry itself. */
  default?: string;
}

export interface ShimBuildInput {
  recipe: Recipe;
  /** `runtimes/<name>/`: the shim's sources. */
  srcDir: string;
  /** The shim layer's root; the shim goes to `<layerDir>/opt/kiln/shim` (`SHIM_DIR`). */
  layerDir: string;
  /** The os and language snapshot dirs, bottom first: where a step that runs the language runs. */
  lowerDirs: string[];
  /** Scratch space, removed afterwards. */
  workDir: string;
  sandbox: BuildSandbox;
  /** The language's builder image (built on first use). */
  builder: () => Promise<BuilderImage>;
}

export interface FunctionBuildInput {
  /** The unpacked bundle, checked (`receiveBundle`). */
  srcDir: string;
  /** The function layer's `fn/` dir, empty. */
  outDir: string;
  /** Scratch space for files Kiln writes for the build (a javac argument file), removed afterwards. */
  workDir: string;
  /** The spec's handler, if it names one. */
  handler?: string;
  /** The spec's `bundle` field: false ships the files as they are (node). */
  bundle: boolean;
  /** The shim layer's snapshot dir: what a build compiles against (java: the shim's jar). */
  shimDir: string;
  sandbox: BuildSandbox;
  /** The language's builder image (built on first use). */
  builder: () => Promise<BuilderImage>;
  /** Bytes and entries the bundle may hold: what a copy of it is checked against. */
  limits: { maxBytes: number; maxFiles: number };
}

/** What building a bundle into a function layer tells the rest of Kiln. */
export interface FunctionBuild {
  /** The handler string the shim's `POST /init` gets, relative to `/fn`. */
  handler: string;
  /** The user's file the build started from, shown in errors and in the function's versions. */
  entry: string;
}
