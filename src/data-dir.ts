import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * The layout of Kiln's data dir (`KILN_DATA`, default `/var/lib/kiln`). Every module
 * gets its own subdirectory from here so that no two modules invent the same path.
 */
export class DataDir {
  readonly images: string;
  readonly snapshots: string;
  readonly functions: string;
  readonly instances: string;
  /** Function logs (LogStore): bounded per function, kept across restarts. */
  readonly logs: string;
  /** Async invocations (AsyncStore): one JSON file each until its retention ends. */
  readonly async: string;
  /** Secrets (SecretStore): one 0600 file each in a 0700 dir, never in an image or a log. */
  readonly secrets: string;
  /** Volumes (VolumeStore): `<name>/volume.json` and `<name>/data/`, in a 0700 dir. */
  readonly volumes: string;
  readonly tmp: string;
  /** The control-plane token `kiln serve` makes at its first start when `KILN_TOKEN` is unset (mode 0600). */
  readonly controlToken: string;

  constructor(readonly root: string) {
    this.images = path.join(root, 'images');
    this.snapshots = path.join(root, 'snapshots');
    this.functions = path.join(root, 'functions');
    this.instances = path.join(root, 'instances');
    this.logs = path.join(root, 'logs');
    this.async = path.join(root, 'async');
    this.secrets = path.join(root, 'secrets');
    this.volumes = path.join(root, 'volumes');
    // One tmp dir inside the data dir: renames out of it stay on one filesystem.
    this.tmp = path.join(root, 'tmp');
    this.controlToken = path.join(root, 'control-token');
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): DataDir {
    return new DataDir(path.resolve(env.KILN_DATA || '/var/lib/kiln'));
  }

  /**
   * Make this (new) data dir use another one's image store and snapshots, so that base
   * images built once serve many data dirs (the tests, the benchmark). Both must be on one
   * filesystem: blobs and snapshots are committed by rename.
   */
  async shareImagesOf(cache: DataDir): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await symlink(cache.images, this.images);
    await symlink(cache.snapshots, this.snapshots);
  }

  async ensure(): Promise<void> {
    for (const dir of [
      this.images,
      this.snapshots,
      this.functions,
      this.instances,
      this.logs,
      this.async,
      this.tmp,
    ]) {
      await mkdir(dir, { recursive: true });
    }
  }
}
