import { BlobSources } from '../blob-sources.js';
import { CompressedLayers } from '../compressed-layers.js';
import type { ImageStore } from '../image-store.js';
import { CredentialStore, type Credentials } from './credentials.js';
import { type PullResult, pullImage } from './pull.js';
import { type PushResult, pushImage } from './push.js';
import { parseReference } from './reference.js';
import { RegistryClient } from './registry-client.js';
import type { TransferProgress } from './transfer-progress.js';

export interface TransferOptions {
  /** Plain http to a registry that is not on loopback. */
  insecure?: boolean;
  onProgress?: TransferProgress;
  /** Blobs above this many bytes go up in chunks of it (default 32 MiB). */
  chunkSize?: number;
}

/** Kiln's side of registries: push and pull images of one image store, with stored credentials. */
export class Registries {
  readonly compressed: CompressedLayers;
  readonly sources: BlobSources;

  constructor(
    readonly store: ImageStore,
    readonly credentials = new CredentialStore(),
  ) {
    this.compressed = new CompressedLayers(store);
    this.sources = new BlobSources(store);
  }

  client(registry: string, options: TransferOptions = {}): RegistryClient {
    return new RegistryClient(registry, {
      insecure: options.insecure,
      credentials: this.credentials,
      chunkSize: options.chunkSize,
    });
  }

  /** Push the image whose manifest is `manifestDigest` to `target` (`REGISTRY/REPO:TAG`). */
  async push(manifestDigest: string, target: string, options: TransferOptions = {}): Promise<PushResult> {
    const ref = parseReference(target);
    // Under a lease: the layers' gzip copies are referenced by no manifest in the store.
    return this.store.leases.hold(async () =>
      pushImage({
        store: this.store,
        compressed: this.compressed,
        sources: this.sources,
        client: this.client(ref.registry, options),
        image: await this.store.getImage(manifestDigest),
        target: ref,
        onProgress: options.onProgress,
      }),
    );
  }

  async pull(reference: string, options: TransferOptions = {}): Promise<PullResult> {
    const ref = parseReference(reference);
    // Under a lease: blobs are committed before the manifest naming them is tagged.
    return this.store.leases.hold(() =>
      pullImage({
        store: this.store,
        compressed: this.compressed,
        sources: this.sources,
        client: this.client(ref.registry, options),
        ref,
        onProgress: options.onProgress,
      }),
    );
  }

  /** Check the credentials against the registry, then store them (`kiln login`). */
  async login(registry: string, credentials: Credentials, options: TransferOptions = {}): Promise<void> {
    const given = { get: async () => credentials };
    await new RegistryClient(registry, { insecure: options.insecure, credentials: given }).ping();
    await this.credentials.save(registry, credentials);
  }
}
