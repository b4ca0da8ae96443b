import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gate } from '../../test/fakes/fake-launcher.js';
import { HostProcessSandbox } from '../../test/fakes/host-sandbox.js';
import { rawTarGz } from '../../test/tar-builder.js';
import type { BaseImages, BuilderImage } from '../build/base-images.js';
import { packDir } from '../build/pack-dir.js';
import { KilnError } from '../errors.js';
import type { FunctionVersion } from '../functions/function-store.js';
import { FunctionStore } from '../functions/function-store.js';
import { ImageStore } from '../image/image-store.js';
import { packLayer } from '../image/layer-tar.js';
import { SnapshotStore } from '../image/snapshot-store.js';
import type { Image } from '../image/types.js';
import { Deployer, type DeployTarget } from './deployer.js';

/**
 * The deploy transaction through its seams, without containers: real stores in a temp
 * dir, Kiln's real node build program (run on the host by `HostProcessSandbox` instead of
 * in a build container), a tiny real base image instead of debootstrap's, and a
 * `DeployTarget` that records what the pool was asked (and can refuse the trial start).
 */
class TinyBaseImages implements BaseImages {
  private image: Promise<Image> | undefined;

  constructor(
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotStore,
    private readonly dir: string,
  ) {}

  ensure(): Promise<Image> {
    this.image ??= this.build();
    return this.image;
  }

  async builder(): Promise<BuilderImage> {
    return { layers: [], env: [] };
  }

  private async build(): Promise<Image> {
    const layers = [];
    for (const [name, file] of [
      ['os', 'etc/os-release'],
      ['lang', 'usr/local/bin/node'],
      ['shim', 'opt/kiln/shim/main.mjs'],
    ] as const) {
      const dir = path.join(this.dir, name);
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), name);
      const layer = await packLayer(this.images, dir, { deterministic: true });
      await this.snapshots.adopt(layer.digest, dir);
      layers.push(layer);
    }
    const config = {
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: ['/usr/local/bin/node', '/opt/kiln/shim/main.mjs'], Env: ['PATH=/usr/bin'] },
      rootfs: { type: 'layers' as const, diff_ids: layers.map((l) => l.digest) },
    };
    return this.images.getImage((await this.images.putImage(config, layers)).digest);
  }
}

class RecordingTarget implements DeployTarget {
  readonly events: string[] = [];
  refuse: KilnError | undefined;
  hold: Promise<void> | undefined;

  async prepare(version: FunctionVersion): Promise<void> {
    this.events.push(`prepare ${version.spec.name}@${version.version}`);
    await this.hold;
    if (this.refuse) throw this.refuse;
  }

  async retire(name: string, keepVersion?: number): Promise<void> {
    this.events.push(`retire ${name} keep ${keepVersion ?? 'none'}`);
  }
}

let dir: string;
let functions: FunctionStore;
let images: ImageStore;
let snapshots: SnapshotStore;
let target: RecordingTarget;
let base: TinyBaseImages;
let deployer: Deployer;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kiln-deployer-'));
  for (const sub of ['images', 'snapshots', 'functions', 'tmp', 'base']) await mkdir(path.join(dir, sub));
  images = new ImageStore(path.join(dir, 'images'));
  await images.init();
  snapshots = new SnapshotStore(path.join(dir, 'snapshots'));
  functions = new FunctionStore(path.join(dir, 'functions'));
  await functions.load();
  target = new RecordingTarget();
  base = new TinyBaseImages(images, snapshots, path.join(dir, 'base'));
  deployer = new Deployer(
    functions,
    images,
    snapshots,
    base,
    target,
    path.join(dir, 'tmp'),
    new HostProcessSandbox(),
  );
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A gzip tar of a one-file node function answering `text`. */
async function bundle(text: string): Promise<Uint8Array> {
  const src = await mkdtemp(path.join(dir, 'src-'));
  await writeFile(
    path.join(src, 'index.mjs'),
    `export default { fetch: () => new Response(${JSON.stringify(text)}) };`,
  );
  return packDir(src);
}

const fields = (name: string) => ({ name, runtime: 'node' });

describe('Deployer', () => {
  it('records the version as active only after its trial start, then tags its image and retires the old', async () => {
    await deployer.deploy({ bundle: await bundle('one'), fields: fields('hello') });
    const result = await deployer.deploy({ bundle: await bundle('two'), fields: fields('hello') });
    expect(target.events).toEqual([
      'prepare hello@1',
      'retire hello keep 1',
      'prepare hello@2',
      'retire hello keep 2',
    ]);
    expect(result.version.version).toBe(2);
    expect(functions.active('hello').version).toBe(2);
    const tagged = await images.resolve('fn/hello:2');
    expect(tagged?.digest).toBe(result.version.image);
    const image = await images.getImage(result.version.image);
    expect(image.manifest.layers.slice(0, 3)).toEqual((await base.ensure()).manifest.layers);
    expect(image.manifest.layers[3]?.digest).toBe(result.version.layer);
    expect(image.config.config.Env).toContain(`KILN_HANDLER=${result.version.handler}`);
  });

  it('changes nothing when the trial start fails: the old version stays active, untouched, and no number is used up', async () => {
    await deployer.deploy({ bundle: await bundle('one'), fields: fields('keeper') });
    target.refuse = new KilnError('handler_load_failed', 'the module threw while loading', 400);
    await expect(
      deployer.deploy({ bundle: await bundle('two'), fields: fields('keeper') }),
    ).rejects.toMatchObject({
      code: 'handler_load_failed',
    });
    expect(functions.active('keeper').version).toBe(1);
    expect(functions.get('keeper').versions).toHaveLength(1);
    expect(await images.resolve('fn/keeper:2')).toBeUndefined();
    expect(target.events).toEqual(['prepare keeper@1', 'retire keeper keep 1', 'prepare keeper@2']);
    target.refuse = undefined;
    expect(
      (await deployer.deploy({ bundle: await bundle('two'), fields: fields('keeper') })).version.version,
    ).toBe(2);
  });

  it('refuses a bad name before reading the bundle, and a bad build before the pool hears of it', async () => {
    await expect(
      deployer.deploy({ bundle: new Uint8Array([1, 2, 3]), fields: { name: 'Bad_Name', runtime: 'node' } }),
    ).rejects.toMatchObject({ code: 'invalid_name', status: 400 });
    const broken = rawTarGz([{ path: 'index.ts', body: 'export default { fetch( };' }]);
    await expect(deployer.deploy({ bundle: broken, fields: fields('broken') })).rejects.toMatchObject({
      code: 'build_failed',
    });
    expect(target.events).toEqual([]);
    expect(functions.list()).toEqual([]);
    // Its work dir is gone.
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  it('runs deploys of one function one at a time, and of another function beside them', async () => {
    const held = gate();
    target.hold = held.wait;
    const first = deployer.deploy({ bundle: await bundle('a1'), fields: fields('a') });
    const second = deployer.deploy({ bundle: await bundle('a2'), fields: fields('a') });
    const other = deployer.deploy({ bundle: await bundle('b1'), fields: fields('b') });
    // a@2 waits for a@1; b@1 does not.
    // A condition wait, not a deadline: two builds take seconds on a loaded machine.
    await expect
      .poll(() => [...target.events].sort(), { timeout: 60_000 })
      .toEqual(['prepare a@1', 'prepare b@1']);
    held.open();
    const results = await Promise.all([first, second, other]);
    expect(results.map((r) => `${r.record.name}@${r.version.version}`)).toEqual(['a@1', 'a@2', 'b@1']);
    expect(target.events.indexOf('prepare a@2')).toBeGreaterThan(target.events.indexOf('retire a keep 1'));
  });

  it('deploys the same code as two functions at once: one layer, one snapshot, both succeed', async () => {
    const code = await bundle('same');
    const [x, y] = await Promise.all([
      deployer.deploy({ bundle: code, fields: fields('x') }),
      deployer.deploy({ bundle: code, fields: fields('y') }),
    ]);
    expect(x.version.layer).toBe(y.version.layer);
    expect(await snapshots.has(x.version.layer)).toBe(true);
    const again = await deployer.deploy({ bundle: code, fields: fields('z') });
    expect(again.layerReused).toBe(true);
  });

  it('removes a function: its instances retired, its record and tags gone', async () => {
    await deployer.deploy({ bundle: await bundle('one'), fields: fields('doomed') });
    await deployer.remove('doomed');
    expect(target.events.at(-1)).toBe('retire doomed keep none');
    expect(() => functions.get('doomed')).toThrow(expect.objectContaining({ code: 'function_not_found' }));
    expect(await images.resolve('fn/doomed:1')).toBeUndefined();
  });

  it('makes no version for the same files and spec again, and says so; a changed spec or file makes one', async () => {
    const first = await deployer.deploy({ bundle: await bundle('same'), fields: fields('idem') });
    // Packed again from another dir: other mtimes, same files.
    const again = await deployer.deploy({ bundle: await bundle('same'), fields: fields('idem') });
    expect(again.unchanged).toBe(true);
    expect(again.version).toEqual(first.version);
    expect(functions.get('idem').versions).toHaveLength(1);
    expect(target.events).toEqual(['prepare idem@1', 'retire idem keep 1']);
    const bigger = await deployer.deploy({
      bundle: await bundle('same'),
      fields: { ...fields('idem'), memoryMb: 256 },
    });
    expect(bigger).toMatchObject({ unchanged: false, version: { version: 2 } });
    const edited = await deployer.deploy({
      bundle: await bundle('edited'),
      fields: { ...fields('idem'), memoryMb: 256 },
    });
    expect(edited).toMatchObject({ unchanged: false, version: { version: 3 } });
    expect(edited.version.sourceDigest).not.toBe(first.version.sourceDigest);
  });

  it('rolls back without a build: the earlier version is prepared, recorded active, the rest retired', async () => {
    for (const text of ['one', 'two', 'three'])
      await deployer.deploy({ bundle: await bundle(text), fields: fields('rb') });
    target.events.length = 0;
    const back = await deployer.rollback('rb');
    expect(back).toMatchObject({ version: { version: 2 }, previous: 3, unchanged: false });
    expect(target.events).toEqual(['prepare rb@2', 'retire rb keep 2']);
    expect(functions.active('rb').version).toBe(2);
    expect((await deployer.rollback('rb', 1)).version.version).toBe(1);
    expect(await deployer.rollback('rb', 1)).toMatchObject({ unchanged: true });
    await expect(deployer.rollback('rb', 9)).rejects.toMatchObject({
      code: 'version_not_found',
      status: 404,
    });
    await expect(deployer.rollback('rb')).rejects.toMatchObject({ code: 'no_previous_version', status: 409 });
    // A failed trial start leaves the active version as it was.
    target.refuse = new KilnError('handler_load_failed', 'no', 400);
    await expect(deployer.rollback('rb', 3)).rejects.toMatchObject({ code: 'handler_load_failed' });
    expect(functions.active('rb').version).toBe(1);
  });

  it('updates config as a new version of the same image, tagged; a patch that changes nothing makes none', async () => {
    const first = await deployer.deploy({ bundle: await bundle('cfg'), fields: fields('cfg') });
    const updated = await deployer.updateConfig('cfg', { memoryMb: 512, env: { MODE: 'x' } });
    expect(updated).toMatchObject({ previous: 1, unchanged: false, version: { version: 2 } });
    expect(updated.version.image).toBe(first.version.image);
    expect(updated.version.spec).toMatchObject({ memoryMb: 512, env: { MODE: 'x' } });
    expect((await images.resolve('fn/cfg:2'))?.digest).toBe(first.version.image);
    expect(await deployer.updateConfig('cfg', { memoryMb: 512 })).toMatchObject({
      unchanged: true,
      version: { version: 2 },
    });
    await expect(deployer.updateConfig('cfg', { handler: 'x.y' })).rejects.toMatchObject({
      code: 'not_patchable',
    });
    // The same files deployed with the updated spec are the active version already.
    const redeploy = await deployer.deploy({
      bundle: await bundle('cfg'),
      fields: { ...fields('cfg'), memoryMb: 512, env: '{"MODE":"x"}' },
    });
    expect(redeploy.unchanged).toBe(true);
  });
});
