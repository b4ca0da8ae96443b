import { KilnError } from '../errors.js';
import { type FunctionSpec, parseSpec } from '../functions/spec.js';
import { mergeEnv } from '../image/image-env.js';
import type { ImageConfig } from '../image/types.js';
import { isLanguageName } from '../languages/registry.js';

/** Labels that make an image a Kiln function's image (and let `POST /functions {"image"}` deploy it). */
export const KilnLabel = {
  runtime: 'dev.kiln.runtime',
  /** What the shim's `POST /init` gets (and `KILN_HANDLER` outside Kiln). */
  handler: 'dev.kiln.handler',
  function: 'dev.kiln.function',
  /** The user's entry file, e.g. `src/app.ts`. */
  source: 'dev.kiln.source',
  /** The function's spec without `env` (which is in the config's Env), as JSON. */
  spec: 'dev.kiln.spec',
} as const;

export interface FunctionImageInput {
  spec: FunctionSpec;
  handler: string;
  source: string;
  version: number;
  /** The digest of the function layer (its tar: the diff_id). */
  layer: string;
  created: string;
}

/**
 * A function image's config: the base image's, plus everything the image needs to run
 * alone (`podman run`, Kubernetes): the handler and the function's env in Env, with
 * those variables Lambda sets for a function (AWS docs, "Defined runtime environment
 * variables") that do not change with where it is deployed; labels naming the function (OCI annotation keys, image-spec
 * annotations.md, and Kiln's own); and a `history` entry for every layer (image-spec
 * config.md: one per layer that is not `empty_layer`).
 */
export function functionImageConfig(base: ImageConfig, input: FunctionImageInput): ImageConfig {
  const { spec } = input;
  const { env: _env, ...specWithoutEnv } = spec;
  const baseHistory = base.history?.filter((h) => !h.empty_layer) ?? [];
  const history = base.rootfs.diff_ids.map(
    (diffId, i) => baseHistory[i] ?? { created_by: `kiln base layer ${diffId.slice(0, 19)}` },
  );
  return {
    ...base,
    created: input.created,
    config: {
      ...base.config,
      // One entry per name: a function's own PATH or LD_PRELOAD replaces the base image's.
      Env: mergeEnv([
        ...(base.config.Env ?? []),
        // For a run outside Kiln; in Kiln, `/init` sends the whole Lambda environment over
        // these (src/pool/lambda-environment.ts), so an image deployed under another name
        // reports that name.
        `AWS_LAMBDA_FUNCTION_NAME=${spec.name}`,
        `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=${spec.memoryMb}`,
        'LAMBDA_TASK_ROOT=/fn',
        ...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        // Last, so that a user's env cannot move the handler. Outside Kiln the shim loads it at boot.
        `KILN_HANDLER=${input.handler}`,
        `KILN_FUNCTION=${spec.name}`,
      ]),
      Labels: {
        ...base.config.Labels,
        'org.opencontainers.image.title': spec.name,
        'org.opencontainers.image.version': String(input.version),
        'org.opencontainers.image.created': input.created,
        'org.opencontainers.image.description': `Kiln ${spec.runtime} function ${spec.name} (${input.source})`,
        [KilnLabel.runtime]: spec.runtime,
        [KilnLabel.handler]: input.handler,
        [KilnLabel.function]: spec.name,
        [KilnLabel.source]: input.source,
        [KilnLabel.spec]: JSON.stringify(specWithoutEnv),
      },
    },
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, input.layer] },
    history: [
      ...history,
      {
        created: input.created,
        created_by: `kiln deploy ${spec.name} (${spec.runtime}: ${input.source})`,
        comment: 'function layer: /fn',
      },
    ],
  };
}

/** What a Kiln function image says about its function: refused when the image is not one. */
export interface FunctionImageFacts {
  spec: FunctionSpec;
  handler: string;
  source: string;
}

/**
 * Read a function back from an image's config (`POST /functions {"image"}`): its labels
 * must say it is a Kiln function of a known runtime. `fields` (the request's) win over the
 * image's spec, as query parameters win over kiln.json.
 */
export function functionFromImage(
  config: ImageConfig,
  ref: string,
  fields: Record<string, unknown>,
): FunctionImageFacts {
  const labels = config.config?.Labels ?? {};
  const runtime = labels[KilnLabel.runtime];
  const handler = labels[KilnLabel.handler];
  if (!runtime || !handler || !isLanguageName(runtime)) {
    throw new KilnError(
      'not_a_kiln_image',
      `${ref} is not a Kiln function image: its config lacks the ${KilnLabel.runtime} and ${KilnLabel.handler} labels (push one with kiln push)`,
    );
  }
  let stored: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(labels[KilnLabel.spec] ?? '{}') as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      stored = parsed as Record<string, unknown>;
  } catch {
    throw new KilnError('not_a_kiln_image', `${ref}'s ${KilnLabel.spec} label is not JSON`);
  }
  const spec = parseSpec({ ...stored, name: labels[KilnLabel.function], runtime, ...fields });
  if (spec.runtime !== runtime) {
    throw new KilnError(
      'invalid_spec',
      `${ref} is a ${runtime} function; its runtime cannot be changed to ${spec.runtime}`,
    );
  }
  return { spec, handler, source: labels[KilnLabel.source] ?? '' };
}
