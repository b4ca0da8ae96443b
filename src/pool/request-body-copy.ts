import type { Readable } from 'node:stream';
import { ShimClientError } from './shim-client.js';

/** Where `copyRequestBody` sends a client's body: one request on a shim transport. */
export interface BodyCopyTarget {
  /** The request is over (answered or failed): nothing more to copy. */
  settled(): boolean;
  /** Send a chunk on; false when the transport is full (the client is paused until `onDrain`). */
  write(chunk: Buffer): boolean;
  /** Call `resume` once, when the transport can take more; answers a function that takes it back. */
  onDrain(resume: () => void): () => void;
  /** The whole body went. */
  end(): void;
  /** The body cannot go: past the limit, or the client stopped sending. */
  fail(err: ShimClientError): void;
}

/**
 * Copy a client's request body to a shim transport as it arrives (HTTP/1.1 `ShimClient`, the
 * multiplexed `MuxClient`), pausing the client while the transport is full and counting the
 * bytes against `limit` when `counted` (a body of unknown length: 413 past it). Answers a stop
 * for when the shim answered before the body was whole: copying ends, and what the client
 * still sends is read and dropped, so its connection stays usable.
 */
export function copyRequestBody(
  stream: Readable,
  limit: number,
  counted: boolean,
  target: BodyCopyTarget,
): () => void {
  let size = 0;
  let copying = true;
  let undrain: (() => void) | undefined;
  const cleanup = () => {
    copying = false;
    stream.off('data', onChunk);
    stream.off('end', onEnd);
    stream.off('error', onError);
    stream.off('aborted', onError);
    undrain?.();
    undrain = undefined;
  };
  const onChunk = (chunk: Buffer) => {
    if (target.settled()) return cleanup();
    size += chunk.length;
    if (counted && size > limit) {
      cleanup();
      target.fail(new ShimClientError('body_too_large', `the request body is larger than ${limit} bytes`));
      return;
    }
    if (!target.write(chunk) && !undrain) {
      stream.pause();
      undrain = target.onDrain(() => {
        undrain = undefined;
        stream.resume();
      });
    }
  };
  const onEnd = () => {
    cleanup();
    target.end();
  };
  const onError = () => {
    cleanup();
    target.fail(new ShimClientError('body_aborted', 'the client stopped sending its body'));
  };
  stream.on('data', onChunk);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('aborted', onError);
  if (stream.readableEnded) onEnd();
  else stream.resume();
  return () => {
    if (!copying) return;
    cleanup();
    stream.resume();
  };
}
