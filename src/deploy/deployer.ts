import { constants } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { BaseImages } from '../build/base-images.js';
import { type BundleLimits, DEFAULT_BUNDLE_LIMITS, receiveBundle } from '../build/bundle.js';
import type { BuildSandbox } from '../build/sandbox.js';
import { sourceDigest } from '../build/source-digest.js';
import { KilnError } from '../errors.js';
import type { FunctionRecord, FunctionStore, FunctionVersion } from '../functions/function-store.js';
import { type FunctionSpec, parseSpec, validateName, validateRuntime } from '../functions/spec.js';
import { patchSpec, sameSpec } from '../functions/spec-patch.js';
import type { ImageStore } from '../image/image-store.js';
import { packLayer } from '../image/layer-tar.js';
import { formatReference, parseReference } from '../image/registry/reference.js';
import type { Registries, TransferOptions } from '../image/registry/registries.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import { type Descriptor, MediaType } from '../image/types.js';
import { languageNamed } from '../languages/registry.js';
import { PhaseRecorder } from '../telemetry/phase-recorder.js';
import { functionFromImage, functionImageConfig } from './function-image.js';

export interface DeployRequest {
  /** The gzip tar of the function directory: the request body as it streams in, or its bytes. */
  bundle: Readable | Uint8Array;
  /** Spec fields from the request (query, headers, form fields); they win over kiln.json. */
  fields: Record<string, unknown>;
  /** Where the deploy's phases go (the gateway's trace and `Server-Timing`); a new one when absent. */
  phases?: PhaseRecorder;
}

export interface DeployResult {
  record: FunctionRecord;
  version: FunctionVersion;
  /** True when the function layer was already in the store (same code deployed before). */
  layerReused: boolean;
  /**
   * True when the active version already had these files, this spec and this base image:
   * no version was made, nothing was built, `version` is the active one.
   */
  unchanged: boolean;
  /** Where the deploy's time went, in ms (the gateway sends them as `Server-Timing`). */
  timings: DeployTimings;
}

export interface DeployTimings {
  /** The body streamed in, checked and unpacked. */
  receive: number;
  /** Waiting for an earlier deploy of the same function. */
  queue: number;
  /** The base image (and the builder) found or built. */
  base: number;
  /** The language's build: the build container's run and the checked copy of its output. */
  build: number;
  /** The function layer packed and stored, and its snapshot adopted. */
  layer: number;
  /** The image's config and manifest written. */
  image: number;
  /** The trial start: a container started and its handler loaded. */
  prepare: number;
  /** The version recorded, tagged, the old one retired. */
  commit: number;
}

/** A change of the active version without a build: a rollback, or a config update. */
export interface ActivationResult {
  record: FunctionRecord;
  version: FunctionVersion;
  /** The version that was active before. */
  previous: number;
  /** Nothing changed: the version asked for was active already (or the patch changed nothing). */
  unchanged: boolean;
}

/** What the deployer needs from the pool: a trial start, and a switch to the new version. */
export interface DeployTarget {
  prepare(version: FunctionVersion): Promise<void>;
  retire(name: string, keepVersion?: number): Promise<void>;
}

/**
 * A deploy is one transaction: receive and check the bundle, build the function layer
 * (in the language's build sandbox), write an image of [os, language, shim, function],
 * start it once and load its handler (`DeployTarget.prepare`), and only then record the
 * version as active; after that its image is tagged `fn/<name>:<version>` and the old
 * version's instances are retired. Any failure before the version is recorded leaves the
 * function as it was, its previous version still serving (an untagged image may be left
 * in the store), and its work dir removed. Deploys of one function run one at a time;
 * deploys of different functions side by side.
 */
export class Deployer {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: FunctionStore,
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly baseImages: BaseImages,
    private readonly target: DeployTarget,
    private readonly tmpDir: string,
    private readonly sandbox: BuildSandbox,
    private readonly limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
    /** Where `deployImage` pulls from; without it, only images already in the store deploy. */
    private readonly registries?: Registries,
    /**
     * What a spec needs of the host (the volumes it names exist), checked before anything is
     * built or started for it, so a deploy naming a missing volume fails at once.
     */
    private readonly checkSpec: (spec: FunctionSpec) => void = () => undefined,
  ) {}

  async deploy(req: DeployRequest): Promise<DeployResult> {
    // Fail fast on a bad name or runtime before any work on the bundle.
    if (req.fields.name !== undefined) validateName(req.fields.name);
    if (req.fields.runtime !== undefined) validateRuntime(req.fields.runtime);
    if (!(req.bundle instanceof Readable) && req.bundle.length === 0) throw noBundle();
    const phases = req.phases ?? new PhaseRecorder();
    const work = await mkdtemp(path.join(this.tmpDir, 'deploy-'));
    try {
      const src = path.join(work, 'src');
      const body = req.bundle instanceof Readable ? req.bundle : Readable.from([req.bundle]);
      // The files' digest is part of receiving them: a redeploy of the same ones stops at `queue`.
      const digest = await phases.time(
        'receive',
        async () => {
          await receiveBundle(body, src, this.limits);
          return sourceDigest(src);
        },
        { spanName: 'unpack' },
      );
      const spec = parseSpec({ ...(await readKilnJson(src)), ...req.fields });
      this.checkSpec(spec);
      const queued = phases.begin('queue');
      // The lease keeps a prune from sweeping the layer and image before the version names them.
      return await this.serialized(spec.name, () =>
        this.images.leases.hold(async () => {
          queued.end();
          const same = await this.activeWith(spec, digest);
          if (same) {
            const timings = deployTimings(phases.durations());
            return {
              record: this.store.get(spec.name),
              version: same,
              layerReused: true,
              unchanged: true,
              timings,
            };
          }
          const layerRoot = path.join(work, 'layer');
          const fnDir = path.join(layerRoot, 'fn');
          const buildDir = path.join(work, 'build');
          await mkdir(fnDir, { recursive: true });
          await mkdir(buildDir);
          const base = await phases.time('base', () => this.baseImages.ensure(spec.runtime), {
            spanName: 'base image ensure',
          });
          const shimLayer = base.manifest.layers[base.manifest.layers.length - 1]!;
          const building = phases.begin('build');
          const build = await languageNamed(spec.runtime).buildFunction({
            srcDir: src,
            outDir: fnDir,
            workDir: buildDir,
            handler: spec.handler,
            bundle: spec.bundle !== false,
            shimDir: this.snapshots.path(shimLayer.digest),
            sandbox: this.sandbox,
            builder: () => this.baseImages.builder(spec.runtime),
            limits: this.limits,
          });
          building.end();
          const layerWrite = phases.begin('layer', { spanName: 'layer write' });
          const layer = await packLayer(this.images, layerRoot, { deterministic: true });
          const layerReused = await this.snapshots.has(layer.digest);
          if (!layerReused) await this.snapshots.adopt(layer.digest, layerRoot);
          layerWrite.end();
          const imageWrite = phases.begin('image', { spanName: 'image write' });
          const version = this.store.nextVersion(spec.name);
          const config = functionImageConfig(base.config, {
            spec,
            handler: build.handler,
            source: build.entry,
            version,
            layer: layer.digest,
            created: new Date().toISOString(),
          });
          const manifest = await this.images.putImage(config, [...base.manifest.layers, layer], {
            'dev.kiln.function': spec.name,
          });
          imageWrite.end();
          const fn = {
            version,
            image: manifest.digest,
            layer: layer.digest,
            handler: build.handler,
            source: build.entry,
            sourceDigest: digest,
            spec,
          };
          return this.activate(fn, manifest, layerReused, phases);
        }),
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Make an earlier version active again (a rollback; the previous one by number when none
   * is named). Nothing is built: the version's image is in the store under its tag. Its
   * instance is started and its handler loaded first, so the switch serves at once; then
   * the record says it is active, and the other versions' instances drain (requests they
   * hold finish; queued ones take the version active when their turn comes).
   */
  async rollback(name: string, version?: number): Promise<ActivationResult> {
    return this.serialized(name, async () => {
      const record = this.store.get(name);
      const previous = record.activeVersion;
      const target =
        version === undefined ? this.store.previousVersion(name) : this.store.version(record, version);
      if (target.version === previous) return { record, version: target, previous, unchanged: true };
      this.checkSpec(target.spec);
      await this.target.prepare(target);
      const updated = await this.store.activate(name, target.version);
      await this.target.retire(name, target.version);
      return { record: updated, version: target, previous, unchanged: false };
    });
  }

  /**
   * A config update (`PATCH /functions/:name`): a new version with the active one's image
   * and a patched spec (limits, env), proved by a trial start like a deploy's. A patch that
   * changes nothing makes no version.
   */
  async updateConfig(name: string, patch: unknown): Promise<ActivationResult> {
    return this.serialized(name, async () => {
      const active = this.store.active(name);
      const spec = patchSpec(active.spec, patch);
      if (sameSpec(spec, active.spec))
        return { record: this.store.get(name), version: active, previous: active.version, unchanged: true };
      this.checkSpec(spec);
      const { createdAt: _, ...rest } = active;
      const version = { ...rest, version: this.store.nextVersion(name), spec };
      await this.target.prepare({ ...version, createdAt: new Date().toISOString() });
      const record = await this.store.addActiveVersion(version);
      const size = (await this.images.readBlob(active.image)).length;
      await this.images.tag(`fn/${name}:${version.version}`, {
        mediaType: MediaType.manifest,
        digest: active.image,
        size,
      });
      await this.target.retire(name, version.version);
      return { record, version: this.store.active(name), previous: active.version, unchanged: false };
    });
  }

  /**
   * The active version when it has these files and this spec on the current base image: a
   * redeploy of it changes nothing. A base image rebuilt since (a new shim) makes a new version.
   */
  private async activeWith(spec: FunctionSpec, digest: string): Promise<FunctionVersion | undefined> {
    if (!this.store.has(spec.name)) return undefined;
    const active = this.store.active(spec.name);
    if (active.sourceDigest !== digest || !sameSpec(active.spec, spec)) return undefined;
    const base = await this.baseImages.ensure(spec.runtime);
    const image = await this.images.getImage(active.image);
    const layersOf = (ds: { digest: string }[]) => ds.map((d) => d.digest).join(',');
    return layersOf(image.manifest.layers.slice(0, -1)) === layersOf(base.manifest.layers)
      ? active
      : undefined;
  }

  /**
   * Deploy a function from a Kiln function image (`POST /functions {"image": REF}`): the
   * image in the store under that name, else pulled from its registry. Its labels say
   * which function it is (`functionFromImage`); `fields` override its spec. The image is
   * used as it is, so the version runs exactly what was pushed; then the same trial start
   * and commit as a bundle's deploy.
   */
  async deployImage(
    reference: string,
    fields: Record<string, unknown>,
    options: TransferOptions & { phases?: PhaseRecorder } = {},
  ): Promise<DeployResult> {
    if (fields.name !== undefined) validateName(fields.name);
    // Under a lease from the pull to the version: the image is in no version yet.
    return this.images.leases.hold(() => this.deployImageLeased(reference, fields, options));
  }

  private async deployImageLeased(
    reference: string,
    fields: Record<string, unknown>,
    options: TransferOptions & { phases?: PhaseRecorder },
  ): Promise<DeployResult> {
    const phases = options.phases ?? new PhaseRecorder();
    const ref = parseReference(reference);
    const name = ref.tag ? `${ref.registry}/${ref.repository}:${ref.tag}` : formatReference(ref);
    const manifestDigest = await phases.time(
      'receive',
      async () => {
        let digest = ref.digest && (await this.images.has(ref.digest)) ? ref.digest : undefined;
        digest ??= (await this.images.resolve(name))?.digest;
        if (digest) return digest;
        if (!this.registries) {
          throw new KilnError(
            'image_not_found',
            `${name} is not in the image store (kiln pull it first)`,
            404,
          );
        }
        return (await this.registries.pull(reference, options)).manifest.digest;
      },
      { spanName: 'image pull' },
    );
    const image = await this.images.getImage(manifestDigest);
    const facts = functionFromImage(image.config, name, fields);
    this.checkSpec(facts.spec);
    const layer = image.manifest.layers[image.manifest.layers.length - 1];
    if (!layer) throw new KilnError('not_a_kiln_image', `${name} has no layers`);
    const queued = phases.begin('queue');
    return this.serialized(facts.spec.name, async () => {
      queued.end();
      const layerReused = await this.snapshots.has(layer.digest);
      const fn = {
        version: this.store.nextVersion(facts.spec.name),
        image: manifestDigest,
        layer: layer.digest,
        handler: facts.handler,
        source: facts.source,
        spec: facts.spec,
      };
      const size = (await this.images.readBlob(manifestDigest)).length;
      const manifest = { mediaType: image.manifest.mediaType, digest: manifestDigest, size };
      return this.activate(fn, manifest, layerReused, phases);
    });
  }

  /** The last steps of every deploy: the trial start, then the version recorded, tagged, the old one retired. */
  private async activate(
    version: Omit<FunctionVersion, 'createdAt'>,
    manifest: Descriptor,
    layerReused: boolean,
    phases: PhaseRecorder,
  ): Promise<DeployResult> {
    const { spec } = version;
    await phases.time(
      'prepare',
      () => this.target.prepare({ ...version, createdAt: new Date().toISOString() }),
      { spanName: 'trial start' },
    );
    const committing = phases.begin('commit');
    const record = await this.store.addActiveVersion(version);
    await this.images.tag(`fn/${spec.name}:${version.version}`, manifest);
    await this.target.retire(spec.name, version.version);
    committing.end();
    const timings = deployTimings(phases.durations());
    return { record, version: this.store.active(spec.name), layerReused, unchanged: false, timings };
  }

  async remove(name: string): Promise<void> {
    await this.serialized(name, async () => {
      const record = this.store.get(name);
      await this.target.retire(name);
      await this.store.remove(name);
      for (const v of record.versions) await this.images.untag(`fn/${name}:${v.version}`);
    });
  }

  /** One deploy per function at a time; deploys of different functions run side by side. */
  private async serialized<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    this.locks.set(name, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(name) === run) this.locks.delete(name);
    }
  }
}

function noBundle(): KilnError {
  return new KilnError(
    'invalid_bundle',
    'no bundle: send a gzip tar as the body, or a multipart "bundle" file',
  );
}

const DEPLOY_PHASES = ['receive', 'queue', 'base', 'build', 'layer', 'image', 'prepare', 'commit'] as const;

/** Each phase's ms to a tenth, as `Server-Timing` shows them. */
function deployTimings(durations: Record<string, number>): DeployTimings {
  const out = {} as DeployTimings;
  for (const phase of DEPLOY_PHASES) out[phase] = Math.round((durations[phase] ?? 0) * 10) / 10;
  return out;
}

/** kiln.json is Kiln's own format, read on the host: a regular file of at most this many bytes. */
const KILN_JSON_MAX = 64 * 1024;

/**
 * The spec fields of `kiln.json` at the bundle's root, or, when the bundle is a single
 * top-level dir and has none at its root, in that dir (`tar czf b.tgz myfn/`).
 */
export async function readKilnJson(dir: string): Promise<Record<string, unknown>> {
  let text = await readSmallRegularFile(path.join(dir, 'kiln.json'));
  if (text === undefined) {
    const names = await readdir(dir);
    const lone = names.length === 1 ? path.join(dir, names[0]!) : undefined;
    if (lone && (await lstat(lone)).isDirectory())
      text = await readSmallRegularFile(path.join(lone, 'kiln.json'));
  }
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new KilnError('invalid_spec', `kiln.json is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KilnError('invalid_spec', 'kiln.json must hold a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** Undefined when absent; refused when it is not a regular file (a link, a dir) or too big. */
async function readSmallRegularFile(file: string): Promise<string | undefined> {
  const st = await lstat(file).catch(() => undefined);
  if (!st) return undefined;
  if (!st.isFile() || st.size > KILN_JSON_MAX) {
    throw new KilnError(
      'invalid_spec',
      `kiln.json must be a regular file of at most ${KILN_JSON_MAX / 1024} KiB`,
    );
  }
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
