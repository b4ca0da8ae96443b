import type { ImageStore } from '../image/image-store.js';
import type { SnapshotStore } from '../image/snapshot-store.js';
import type { Image } from '../image/types.js';
import type { Container } from '../runtime/container.js';
import { type ContainerRuntime, SOCKET_DIR_IN_CONTAINER, SOCKET_NAME } from '../runtime/container-runtime.js';
import type { ContainerLimits } from '../runtime/oci-spec.js';

export interface ImageStartOptions {
  /** Added after the image's own Env (later entries win). */
  env: string[];
  hostname: string;
  limits: ContainerLimits;
  mountFnDir?: boolean;
}

/**
 * Start a container that runs an image the way its config says (Entrypoint + Cmd, Env,
 * WorkingDir), with the shim told where its socket is. Cold instances run a function's
 * image; stem cells run a language's base image.
 */
export async function startFromImage(
  runtime: ContainerRuntime,
  images: ImageStore,
  snapshots: SnapshotStore,
  image: Image,
  options: ImageStartOptions,
): Promise<Container> {
  const layers = await Promise.all(
    image.manifest.layers.map((l) => snapshots.ensure(l.digest, images.blobPath(l.digest))),
  );
  const config = image.config.config;
  return runtime.start({
    layers,
    args: [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])],
    env: [...(config.Env ?? []), ...options.env, `KILN_SOCKET=${SOCKET_DIR_IN_CONTAINER}/${SOCKET_NAME}`],
    cwd: config.WorkingDir || '/fn',
    hostname: options.hostname,
    limits: options.limits,
    mountFnDir: options.mountFnDir,
  });
}
