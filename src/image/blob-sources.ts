import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../disk.js';
import { parseDigest } from './digest.js';
import type { ImageStore } from './image-store.js';

/**
 * Which repositories of which registries are known to hold a blob (pushed there or pulled
 * from there), as containerd's `containerd.io/distribution.source.<registry>` labels do: a
 * push to another repository of the same registry asks it to mount the blob from one of
 * them instead of uploading it (distribution-spec "Mounting a blob from another
 * repository"). A hint only: a lost update costs an upload, never correctness.
 */
export class BlobSources {
  private readonly dir: string;

  constructor(store: ImageStore) {
    this.dir = path.join(store.root, 'sources');
  }

  async repositories(digest: string, registry: string): Promise<string[]> {
    return (await this.read(digest))[registry] ?? [];
  }

  async add(digest: string, registry: string, repository: string): Promise<void> {
    const sources = await this.read(digest);
    const repos = sources[registry] ?? [];
    if (repos.includes(repository)) return;
    sources[registry] = [...repos, repository].slice(-8);
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path.join(this.dir, parseDigest(digest)), JSON.stringify(sources));
  }

  private async read(digest: string): Promise<Record<string, string[]>> {
    try {
      return JSON.parse(await readFile(path.join(this.dir, parseDigest(digest)), 'utf8')) as Record<
        string,
        string[]
      >;
    } catch {
      return {};
    }
  }
}
