import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { writeFileAtomic } from '../disk.js';
import { parseDigest } from './digest.js';
import type { ImageStore } from './image-store.js';
import { type Descriptor, MediaType } from './types.js';

/**
 * Gzip copies of uncompressed layers, for registries and archives: Kiln stores and
 * unpacks layers as plain tars (a function layer's digest is its content's), and ships
 * them gzipped, as every registry client expects. A compressed copy is a blob of its own;
 * `images/gzip/<hex of the tar>` names it, so a second push or save compresses nothing.
 * The config's `rootfs.diff_ids` stay the tars' digests (image-spec config.md).
 */
export class CompressedLayers {
  private readonly dir: string;
  private readonly pending = new Map<string, Promise<Descriptor>>();

  constructor(private readonly store: ImageStore) {
    this.dir = path.join(store.root, 'gzip');
  }

  /** The gzip form of a layer: itself when it is compressed already, else its cached or new gzip copy. */
  gzipped(layer: Descriptor, onProgress: (bytes: number) => void = () => {}): Promise<Descriptor> {
    if (layer.mediaType !== MediaType.layer) return Promise.resolve(layer);
    let p = this.pending.get(layer.digest);
    if (!p) {
      p = this.compress(layer, onProgress).finally(() => this.pending.delete(layer.digest));
      this.pending.set(layer.digest, p);
    }
    return p;
  }

  /** The cached gzip copy of a tar layer, if there is one. */
  async cached(tarDigest: string): Promise<Descriptor | undefined> {
    let digest: string;
    try {
      digest = (await readFile(this.recordPath(tarDigest), 'utf8')).trim();
      parseDigest(digest);
    } catch {
      return undefined;
    }
    if (!(await this.store.has(digest))) return undefined;
    const { size } = await stat(this.store.blobPath(digest));
    return { mediaType: MediaType.layerGzip, digest, size };
  }

  /** Remember that `gzipDigest` is the gzip of `tarDigest` (a pulled layer whose diff_id was checked). */
  async record(tarDigest: string, gzipDigest: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.recordPath(tarDigest), `${gzipDigest}\n`);
  }

  private async compress(layer: Descriptor, onProgress: (bytes: number) => void): Promise<Descriptor> {
    const found = await this.cached(layer.digest);
    if (found) return found;
    const tmp = this.store.tempPath('.tar.gz');
    const source = createReadStream(this.store.blobPath(layer.digest));
    source.on('data', (chunk) => onProgress(chunk.length));
    // Level 6 (zlib's default, what docker and containerd use): same tar → same gzip bytes here.
    await pipeline(source, createGzip({ level: 6 }), createWriteStream(tmp, { mode: 0o644 }));
    const desc = await this.store.commitFile(tmp, MediaType.layerGzip);
    await this.record(layer.digest, desc.digest);
    return desc;
  }

  private recordPath(tarDigest: string): string {
    return path.join(this.dir, parseDigest(tarDigest));
  }
}
