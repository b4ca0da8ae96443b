import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { KilnError } from '../errors.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function sha256Digest(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export async function sha256File(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Only `sha256:<64 hex>`: a digest becomes a file name, so nothing else may pass. */
export function parseDigest(digest: string): string {
  if (!DIGEST.test(digest)) {
    throw new KilnError('invalid_digest', `"${digest}" is not a sha256 digest (sha256:<64 hex digits>)`);
  }
  return digest.slice('sha256:'.length);
}
