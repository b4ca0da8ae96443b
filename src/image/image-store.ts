import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathExists as exists, syncPath, writeFileAtomic } from '../disk.js';
import { KilnError } from '../errors.js';
import { parseDigest, sha256Digest, sha256File } from './digest.js';
import { withFileLock } from './file-lock.js';
import { StoreLeases } from './store-leases.js';
import {
  type Descriptor,
  type Image,
  type ImageConfig,
  type ImageIndex,
  type Manifest,
  MediaType,
  REF_NAME,
} from './types.js';

export interface CommitOptions {
  /** The digest the producer knows the content must have; a mismatch is refused. */
  expected?: string;
  annotations?: Record<string, string>;
}

/**
 * A content-addressed store laid out as an OCI image layout (`oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`), so `skopeo`/`podman` can read it as is.
 *
 * Lifecycle of a blob, as containerd's content store commits one: it is written to
 * `ingest/` under a random name, hashed and checked against the digest its producer
 * expects (when it knows one), fsynced, renamed to its digest, and the blob dir fsynced.
 * The rename is the commit: a blob path either holds the whole content of its digest or
 * does not exist. Writing content that is already there stores nothing new, and two
 * identical ingests at once are safe (each has its own temp file; a rename over an
 * identical blob changes nothing a reader can see). `index.json` names manifests by ref
 * (`kiln/node:latest`, `fn/hello:3`) and is rewritten whole under a file lock.
 */
export class ImageStore {
  private readonly blobDir: string;
  private readonly ingestDir: string;
  private readonly indexPath: string;
  /** Writers hold a lease while their content may be unreferenced; a prune waits for none (store-leases.ts). */
  readonly leases: StoreLeases;

  constructor(readonly root: string) {
    this.leases = new StoreLeases(root);
    this.blobDir = path.join(root, 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'ingest');
    this.indexPath = path.join(root, 'index.json');
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
    const layout = path.join(this.root, 'oci-layout');
    if (!(await exists(layout)))
      await writeFileAtomic(layout, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (!(await exists(this.indexPath)))
      await this.writeIndex({ schemaVersion: 2, mediaType: MediaType.index, manifests: [] });
  }

  blobPath(digest: string): string {
    return path.join(this.blobDir, parseDigest(digest));
  }

  async has(digest: string): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  /** A temp path on the store's filesystem for a producer to write a blob into. */
  tempPath(suffix = ''): string {
    // The writer's pid first: after a crash, start-up removes the files of writers that are gone.
    return path.join(this.ingestDir, `${process.pid}-${randomBytes(8).toString('hex')}${suffix}`);
  }

  /**
   * Commit a file written under `tempPath()`: hash it, refuse it when it is not
   * `expected`, fsync it, rename it to its digest and fsync the blob dir. The temp file
   * is gone afterwards, whatever happened.
   */
  async commitFile(file: string, mediaType: string, options: CommitOptions = {}): Promise<Descriptor> {
    try {
      const { digest, size } = await sha256File(file);
      if (options.expected !== undefined && options.expected !== digest) {
        throw new KilnError(
          'digest_mismatch',
          `content expected to be ${options.expected} hashes to ${digest}: it was changed or cut short`,
          500,
        );
      }
      const target = this.blobPath(digest);
      if (!(await exists(target))) {
        await syncPath(file);
        await rename(file, target);
        await syncPath(this.blobDir);
      }
      return {
        mediaType,
        digest,
        size,
        ...(options.annotations ? { annotations: options.annotations } : {}),
      };
    } finally {
      await rm(file, { force: true });
    }
  }

  async putBytes(data: string | Uint8Array, mediaType: string): Promise<Descriptor> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256Digest(buf);
    if (await exists(this.blobPath(digest))) return { mediaType, digest, size: buf.length };
    const tmp = this.tempPath();
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(buf);
    } finally {
      await fh.close();
    }
    return this.commitFile(tmp, mediaType, { expected: digest });
  }

  async readBlob(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new KilnError('blob_not_found', `blob ${digest} is not in the image store`, 404);
      }
      throw err;
    }
  }

  async readJson<T>(digest: string): Promise<T> {
    return JSON.parse((await this.readBlob(digest)).toString('utf8')) as T;
  }

  /** Write an image: its config and manifest blobs (layers must already be committed). */
  async putImage(
    config: ImageConfig,
    layers: Descriptor[],
    annotations?: Record<string, string>,
  ): Promise<Descriptor> {
    for (const layer of layers) {
      if (!(await this.has(layer.digest))) {
        throw new KilnError(
          'blob_not_found',
          `layer ${layer.digest} must be committed before its manifest`,
          500,
        );
      }
    }
    const configDesc = await this.putBytes(JSON.stringify(config), MediaType.config);
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.manifest,
      config: configDesc,
      layers,
      ...(annotations ? { annotations } : {}),
    };
    return this.putBytes(JSON.stringify(manifest), MediaType.manifest);
  }

  async getImage(manifestDigest: string): Promise<Image> {
    const manifest = await this.readJson<Manifest>(manifestDigest);
    const config = await this.readJson<ImageConfig>(manifest.config.digest);
    return { manifest, manifestDigest, config };
  }

  async readIndex(): Promise<ImageIndex> {
    return JSON.parse(await readFile(this.indexPath, 'utf8')) as ImageIndex;
  }

  /** Point `ref` at a manifest, replacing what it named before. */
  async tag(ref: string, manifest: Descriptor): Promise<void> {
    await this.updateIndex((index) => {
      const others = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref);
      const entry: Descriptor = {
        // A pulled or loaded image may be a Docker schema 2 manifest; say which.
        mediaType: manifest.mediaType || MediaType.manifest,
        digest: manifest.digest,
        size: manifest.size,
        annotations: { [REF_NAME]: ref },
      };
      return { ...index, manifests: [...others, entry] };
    });
  }

  async untag(ref: string): Promise<void> {
    await this.updateIndex((index) => ({
      ...index,
      manifests: index.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref),
    }));
  }

  async resolve(ref: string): Promise<Descriptor | undefined> {
    const index = await this.readIndex();
    return index.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
  }

  /** Digests of every blob present, for `system df` and garbage collection. */
  async listBlobs(): Promise<{ digest: string; size: number }[]> {
    const names = await readdir(this.blobDir);
    return Promise.all(
      names.map(async (hex) => ({
        digest: `sha256:${hex}`,
        size: (await stat(path.join(this.blobDir, hex))).size,
      })),
    );
  }

  private async updateIndex(change: (index: ImageIndex) => ImageIndex): Promise<void> {
    await withFileLock(`${this.indexPath}.lock`, async () => {
      await this.writeIndex(change(await this.readIndex()));
    });
  }

  private async writeIndex(index: ImageIndex): Promise<void> {
    await writeFileAtomic(this.indexPath, `${JSON.stringify(index, null, 2)}\n`);
  }
}
