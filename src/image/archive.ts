import { link, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { syncPath } from '../disk.js';
import { KilnError } from '../errors.js';
import type { CompressedLayers } from './compressed-layers.js';
import { parseDigest, sha256File } from './digest.js';
import type { ImageStore } from './image-store.js';
import { isIndexType, isManifestType, layerCompression } from './media-types.js';
import { checkManifest, gunzipDigest } from './registry/pull.js';
import {
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type Manifest,
  MediaType,
  REF_NAME,
} from './types.js';

/** containerd's annotation for the full image name in an archive's index (ref.name may be a bare tag). */
const CONTAINERD_NAME = 'io.containerd.image.name';

/**
 * Write an image as an OCI image-layout archive (a tar of `oci-layout`, `index.json`,
 * `blobs/sha256/…`), the format `podman save --format oci-archive` writes and `podman load`
 * and `skopeo copy oci-archive:` read. Layers are gzipped as for a push (the same cached
 * copies, so the saved manifest is the pushed one). The archive appears whole or not at all
 * (written beside `out`, then renamed).
 */
export async function saveImage(input: {
  store: ImageStore;
  compressed: CompressedLayers;
  manifestDigest: string;
  /** The name `podman load` gives it, `REGISTRY/REPO:TAG` (e.g. `localhost/hello:3`). */
  name: string;
  out: string;
  workDir: string;
}): Promise<{ digest: string }> {
  // Under a lease: the layers' gzip copies are referenced by no manifest in the store.
  return input.store.leases.hold(() => saveLeased(input));
}

async function saveLeased(input: Parameters<typeof saveImage>[0]): Promise<{ digest: string }> {
  const { store, compressed } = input;
  const image = await store.getImage(input.manifestDigest);
  const layers: Descriptor[] = [];
  for (const layer of image.manifest.layers) {
    const gz = await compressed.gzipped(layer);
    layers.push({ mediaType: gz.mediaType, digest: gz.digest, size: gz.size });
  }
  const unchanged = layers.every((l, i) => l.digest === image.manifest.layers[i]!.digest);
  const manifestBytes = unchanged
    ? await store.readBlob(input.manifestDigest)
    : Buffer.from(JSON.stringify({ ...image.manifest, layers } satisfies Manifest));
  const manifest = await store.putBytes(manifestBytes, image.manifest.mediaType);
  const stage = await mkdtemp(path.join(input.workDir, 'save-'));
  const tmpOut = path.join(
    path.dirname(path.resolve(input.out)),
    `.${path.basename(input.out)}.${process.pid}.tmp`,
  );
  try {
    const blobs = path.join(stage, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    // Hard links: the stage is on the store's filesystem, so no blob is copied to be tarred.
    for (const d of [manifest, image.manifest.config, ...layers]) {
      const hex = parseDigest(d.digest);
      await link(store.blobPath(d.digest), path.join(blobs, hex)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
    await writeFile(path.join(stage, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: MediaType.index,
      manifests: [
        {
          mediaType: manifest.mediaType,
          digest: manifest.digest,
          size: manifest.size,
          annotations: { [REF_NAME]: input.name, [CONTAINERD_NAME]: input.name },
        },
      ],
    };
    await writeFile(path.join(stage, 'index.json'), JSON.stringify(index));
    const entries = [
      'oci-layout',
      'index.json',
      'blobs',
      'blobs/sha256',
      ...(await readdir(blobs)).sort().map((h) => `blobs/sha256/${h}`),
    ];
    await tar.c(
      { cwd: stage, file: tmpOut, portable: true, noDirRecurse: true, mtime: new Date(0) },
      entries,
    );
    await syncPath(tmpOut);
    await rename(tmpOut, input.out);
    await syncPath(path.dirname(path.resolve(input.out)));
    return { digest: manifest.digest };
  } finally {
    await rm(tmpOut, { force: true });
    await rm(stage, { recursive: true, force: true });
  }
}

export interface LoadedImage {
  name: string;
  digest: string;
}

/**
 * Load an OCI image-layout archive (`podman save --format oci-archive`, `kiln save`) into
 * the store. The archive is unpacked into a work dir (regular files at `oci-layout`,
 * `index.json` and `blobs/sha256/<hex>` only; a cut-short tar is an error), every blob is
 * hashed against its name, every manifest's media types and its layers' `diff_ids` are
 * checked, and only then is anything committed and tagged: a bad archive leaves nothing.
 * Each image is tagged with its `io.containerd.image.name` or `ref.name` annotation (a bare
 * tag becomes `localhost/<archive name>:<tag>`).
 */
export async function loadImages(input: {
  store: ImageStore;
  compressed: CompressedLayers;
  archive: string;
  workDir: string;
}): Promise<LoadedImage[]> {
  // Under a lease: blobs are committed before the images naming them are tagged.
  return input.store.leases.hold(() => loadLeased(input));
}

async function loadLeased(input: Parameters<typeof loadImages>[0]): Promise<LoadedImage[]> {
  const { store, compressed } = input;
  const stage = await mkdtemp(path.join(input.workDir, 'load-'));
  try {
    await unpackArchive(input.archive, stage);
    const blobDir = path.join(stage, 'blobs', 'sha256');
    const names = await readdir(blobDir).catch(() => [] as string[]);
    const present = new Set<string>();
    for (const hex of names) {
      const { digest } = await sha256File(path.join(blobDir, hex));
      if (digest !== `sha256:${hex}`) {
        throw new KilnError(
          'digest_mismatch',
          `the archive's blob ${hex} hashes to ${digest}: refused, nothing loaded`,
        );
      }
      present.add(digest);
    }
    const readBlob = async (d: Descriptor): Promise<Buffer> => {
      if (present.has(d.digest)) return readFile(path.join(blobDir, parseDigest(d.digest)));
      if (await store.has(d.digest)) return store.readBlob(d.digest);
      throw new KilnError('invalid_archive', `the archive lacks blob ${d.digest}`);
    };
    const index = parseJsonFile(
      await readFile(path.join(stage, 'index.json')).catch(() => undefined),
      'index.json',
    ) as ImageIndex;
    if (!Array.isArray(index.manifests) || index.manifests.length === 0) {
      throw new KilnError('invalid_archive', "the archive's index.json names no image");
    }
    const images: { desc: Descriptor; name: string; gzipLayers: [string, string][] }[] = [];
    for (const entry of index.manifests) {
      let desc = entry;
      if (isIndexType(desc.mediaType)) {
        const nested = parseJsonFile(await readBlob(desc), 'index') as {
          manifests?: (Descriptor & { platform?: { os?: string; architecture?: string } })[];
        };
        const found = nested.manifests?.find(
          (m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64',
        );
        if (!found) throw new KilnError('no_matching_platform', 'the archive has no linux/amd64 image');
        desc = { ...found, annotations: entry.annotations };
      }
      if (!isManifestType(desc.mediaType)) {
        throw new KilnError(
          'unsupported_media_type',
          `the archive names a "${desc.mediaType}", not an image manifest`,
        );
      }
      const manifest = checkManifest(parseJsonFile(await readBlob(desc), 'manifest') as Manifest);
      const config = parseJsonFile(await readBlob(manifest.config), 'config') as ImageConfig;
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (diffIds.length !== manifest.layers.length) {
        throw new KilnError(
          'invalid_archive',
          `an image's config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`,
        );
      }
      const gzipLayers: [string, string][] = [];
      for (const [i, layer] of manifest.layers.entries()) {
        await readBlobExists(layer);
        const gzip = layerCompression(layer.mediaType) === 'gzip';
        if (present.has(layer.digest)) {
          const actual = gzip
            ? await gunzipDigest(path.join(blobDir, parseDigest(layer.digest)))
            : layer.digest;
          if (actual !== diffIds[i]) {
            throw new KilnError(
              'digest_mismatch',
              `layer ${layer.digest} unpacks to ${actual}, not its config's ${diffIds[i]}`,
            );
          }
        }
        if (gzip) gzipLayers.push([diffIds[i]!, layer.digest]);
      }
      images.push({ desc, name: imageName(desc, input.archive), gzipLayers });
    }
    for (const hex of names) {
      await store.commitFile(path.join(blobDir, hex), MediaType.layer, { expected: `sha256:${hex}` });
    }
    const loaded: LoadedImage[] = [];
    for (const { desc, name, gzipLayers } of images) {
      for (const [tarDigest, gzDigest] of gzipLayers) await compressed.record(tarDigest, gzDigest);
      await store.tag(name, { mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
      loaded.push({ name, digest: desc.digest });
    }
    return loaded;

    async function readBlobExists(d: Descriptor): Promise<void> {
      if (!present.has(d.digest) && !(await store.has(d.digest))) {
        throw new KilnError('invalid_archive', `the archive lacks layer ${d.digest}`);
      }
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Only the layout's own files, as regular files; anything else in the archive is an error. */
async function unpackArchive(archive: string, dest: string): Promise<void> {
  const st = await stat(archive).catch(() => undefined);
  if (!st?.isFile()) throw new KilnError('not_found', `no such archive: ${archive}`);
  const allowed =
    /^(oci-layout|index\.json|blobs\/?|blobs\/sha256\/?|blobs\/sha256\/[a-f0-9]{64}|manifest\.json|repositories)$/;
  let refused: string | undefined;
  try {
    await tar.x({
      file: archive,
      cwd: dest,
      strict: true,
      filter: (p, entry) => {
        const name = p.replace(/^\.\//, '');
        const type = (entry as { type?: string }).type;
        const ok = allowed.test(name) && (type === 'File' || type === 'OldFile' || type === 'Directory');
        if (!ok && name !== '' && name !== '.') refused ??= `${name} (${type})`;
        return ok;
      },
    });
  } catch (err) {
    throw new KilnError(
      'invalid_archive',
      `${archive} is not a whole tar archive: ${(err as Error).message}`,
    );
  }
  if (refused) {
    throw new KilnError(
      'invalid_archive',
      `${archive} holds ${refused}, which is not part of an OCI image layout`,
    );
  }
  const layout = await readFile(path.join(dest, 'oci-layout'), 'utf8').catch(() => undefined);
  if (layout === undefined) {
    throw new KilnError(
      'invalid_archive',
      `${archive} is not an OCI image layout archive (no oci-layout file; save with --format oci-archive)`,
    );
  }
}

function parseJsonFile(bytes: Buffer | undefined, what: string): unknown {
  if (bytes === undefined) throw new KilnError('invalid_archive', `the archive has no ${what}`);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new KilnError('invalid_archive', `the archive's ${what} is not valid JSON`);
  }
}

function imageName(desc: Descriptor, archive: string): string {
  const full = desc.annotations?.[CONTAINERD_NAME];
  const ref = desc.annotations?.[REF_NAME];
  if (full) return full;
  if (ref && (ref.includes('/') || ref.includes(':'))) return ref;
  const base =
    path
      .basename(archive)
      .replace(/\.(tar|oci)$/i, '')
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-') || 'image';
  return `localhost/${base}:${ref || desc.digest.slice(7, 19)}`;
}
