import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { KilnError } from '../../errors.js';
import type { BlobSources } from '../blob-sources.js';
import type { CompressedLayers } from '../compressed-layers.js';
import { parseDigest } from '../digest.js';
import type { ImageStore } from '../image-store.js';
import {
  checkConfigType,
  INDEX_TYPES,
  isIndexType,
  isManifestType,
  layerCompression,
  MANIFEST_TYPES,
} from '../media-types.js';
import type { Descriptor, ImageConfig, Manifest } from '../types.js';
import { formatReference, type ImageReference } from './reference.js';
import type { RegistryClient } from './registry-client.js';
import { NO_PROGRESS, type TransferProgress } from './transfer-progress.js';

export interface PullResult {
  /** The manifest, stored and tagged under `ref`. */
  manifest: Descriptor;
  ref: string;
  downloaded: number;
  existed: number;
}

/**
 * Pull an image: its manifest (an index resolves to its linux/amd64 manifest), then every
 * blob the store lacks into ingest files, each hashed as it streams and checked against
 * its descriptor, and each layer's uncompressed content against the config's `diff_ids`.
 * Only when every blob is good is anything committed, the manifest last, then the tag: a
 * pull that fails leaves nothing behind.
 */
export async function pullImage(input: {
  store: ImageStore;
  compressed: CompressedLayers;
  sources: BlobSources;
  client: RegistryClient;
  ref: ImageReference;
  onProgress?: TransferProgress;
}): Promise<PullResult> {
  const { store, compressed, sources, client, ref } = input;
  const onProgress = input.onProgress ?? NO_PROGRESS;
  const repo = ref.repository;
  let fetched = await client.getManifest(repo, ref.digest ?? ref.tag!, [...MANIFEST_TYPES, ...INDEX_TYPES]);
  let parsed = parseJson(fetched.bytes, 'manifest') as Manifest & { manifests?: PlatformDescriptor[] };
  let mediaType = parsed.mediaType ?? fetched.mediaType;
  if (isIndexType(mediaType)) {
    const chosen = pickPlatform(parsed.manifests ?? [], formatReference(ref));
    fetched = await client.getManifest(repo, chosen.digest, MANIFEST_TYPES);
    parsed = parseJson(fetched.bytes, 'manifest') as Manifest;
    mediaType = parsed.mediaType ?? fetched.mediaType;
  }
  if (!isManifestType(mediaType)) {
    throw new KilnError(
      'unsupported_media_type',
      `${formatReference(ref)} is a "${mediaType}", not an image manifest (${MANIFEST_TYPES.join(', ')})`,
    );
  }
  const manifest = checkManifest(parsed);
  const temps: string[] = [];
  const commits: { file: string; desc: Descriptor }[] = [];
  const result = { downloaded: 0, existed: 0 };
  try {
    const configFile = await fetchInto(manifest.config);
    const config = parseJson(
      configFile ? await readAll(configFile) : await store.readBlob(manifest.config.digest),
      'config',
    ) as ImageConfig;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new KilnError(
        'invalid_image',
        `${formatReference(ref)}'s config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`,
        502,
      );
    }
    for (const [i, layer] of manifest.layers.entries()) {
      const file = await fetchInto(layer);
      const diffId = diffIds[i]!;
      parseDigest(diffId);
      if (file) {
        const actual = layerCompression(layer.mediaType) === 'gzip' ? await gunzipDigest(file) : layer.digest;
        if (actual !== diffId) {
          throw new KilnError(
            'digest_mismatch',
            `layer ${layer.digest} of ${formatReference(ref)} unpacks to ${actual}, but its config says ${diffId}: refused, nothing stored`,
            502,
          );
        }
      }
    }
    for (const { file, desc } of commits)
      await store.commitFile(file, desc.mediaType, { expected: desc.digest });
    for (const [i, layer] of manifest.layers.entries()) {
      if (layerCompression(layer.mediaType) === 'gzip') await compressed.record(diffIds[i]!, layer.digest);
      await sources.add(layer.digest, ref.registry, repo);
    }
    await sources.add(manifest.config.digest, ref.registry, repo);
    const stored = await store.putBytes(fetched.bytes, mediaType);
    const name = ref.tag ? `${ref.registry}/${repo}:${ref.tag}` : formatReference(ref);
    await store.tag(name, stored);
    return { manifest: stored, ref: name, ...result };
  } finally {
    for (const file of temps) await rm(file, { force: true });
  }

  /** Download a blob the store lacks into an ingest file (checked); undefined when it is there already. */
  async function fetchInto(desc: Descriptor): Promise<string | undefined> {
    if (await store.has(desc.digest)) {
      result.existed++;
      onProgress({ digest: desc.digest, phase: 'exists', bytes: desc.size, total: desc.size });
      return undefined;
    }
    const file = store.tempPath();
    temps.push(file);
    await client.fetchBlob(repo, desc, file, (n) =>
      onProgress({ digest: desc.digest, phase: 'download', bytes: n, total: desc.size }),
    );
    commits.push({ file, desc });
    result.downloaded++;
    onProgress({ digest: desc.digest, phase: 'done', bytes: 0, total: desc.size });
    return file;
  }
}

interface PlatformDescriptor extends Descriptor {
  platform?: { os?: string; architecture?: string };
}

/** Kiln runs linux/amd64 (its seccomp program and base images are x86_64). */
function pickPlatform(manifests: PlatformDescriptor[], name: string): Descriptor {
  const found = manifests.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === 'amd64');
  if (!found) {
    const have = manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ');
    throw new KilnError(
      'no_matching_platform',
      `${name} has no linux/amd64 image (it has: ${have || 'none'})`,
    );
  }
  return found;
}

/** Refuse what Kiln cannot read before a byte of it is downloaded. */
export function checkManifest(m: Manifest): Manifest {
  if (m.schemaVersion !== 2 || !m.config || !Array.isArray(m.layers)) {
    throw new KilnError(
      'invalid_image',
      'the manifest is not an image manifest (schemaVersion 2, config, layers)',
    );
  }
  for (const d of [m.config, ...m.layers]) {
    parseDigest(d.digest);
    if (!Number.isSafeInteger(d.size) || d.size < 0) {
      throw new KilnError('invalid_image', `descriptor ${d.digest} has no valid size`);
    }
  }
  checkConfigType(m.config.mediaType);
  for (const layer of m.layers) layerCompression(layer.mediaType);
  return m;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new KilnError('invalid_image', `the image's ${what} is not valid JSON`, 502);
  }
}

async function readAll(file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(file)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The sha256 of a gzip blob's uncompressed content: the layer's diff_id. */
export async function gunzipDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(file), createGunzip(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) hash.update(chunk);
    });
  } catch (err) {
    throw new KilnError('invalid_image', `a layer is not valid gzip: ${(err as Error).message}`, 502);
  }
  return `sha256:${hash.digest('hex')}`;
}
