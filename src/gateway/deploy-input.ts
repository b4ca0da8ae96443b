import { Readable } from 'node:stream';
import type { Context } from 'hono';
import type { DeployRequest } from '../deploy/deployer.js';
import { KilnError } from '../errors.js';
import { SPEC_FIELDS } from '../functions/spec.js';

/**
 * Read a deploy from either form docs/DESIGN.md §6 allows: a raw gzip tar body with the spec in
 * the query (or `x-kiln-<field>` headers), or multipart with a `bundle` file and spec
 * fields beside it. Query parameters win over headers, which win over kiln.json.
 *
 * A raw body is handed on as a stream, unread: the deployer inflates and unpacks it as it
 * arrives, with its caps. A multipart body is read into memory first, up to
 * `maxBodyBytes` (the form has to be parsed whole), and its bundle file then streamed the
 * same way. A body past `maxBodyBytes` is a 413 whatever its form.
 */
export async function readDeployRequest(c: Context, maxBodyBytes: number): Promise<DeployRequest> {
  const fields: Record<string, unknown> = {};
  for (const field of SPEC_FIELDS) {
    const header = c.req.header(`x-kiln-${field.toLowerCase()}`);
    if (header !== undefined) fields[field] = header;
  }
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  if (declared > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
  let bundle: DeployRequest['bundle'] | undefined;
  const type = c.req.header('content-type') ?? '';
  const body = c.req.raw.body;
  if (type.startsWith('multipart/form-data')) {
    const form = await readForm(type, body ? await readCapped(body, maxBodyBytes) : new Uint8Array());
    let file: Blob | undefined;
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') {
        if (key === 'spec') Object.assign(fields, parseSpecJson(value));
        else fields[key] = value;
      } else if (key === 'bundle' || file === undefined) {
        file = value;
      }
    }
    bundle = file ? Readable.fromWeb(file.stream() as import('node:stream/web').ReadableStream) : undefined;
  } else if (body) {
    bundle = drainingReader(body, maxBodyBytes);
  }
  for (const [key, value] of Object.entries(c.req.query())) fields[key] = value;
  return { bundle: bundle ?? new Uint8Array(), fields };
}

/** The most a JSON deploy body (`{"image": REF, ...}`) may be. */
const IMAGE_DEPLOY_MAX = 64 * 1024;

/**
 * A deploy from an image: a JSON body `{"image": "REGISTRY/REPO:TAG", "insecure"?: bool,
 * ...spec fields}`. Undefined when the body is not JSON (a bundle deploy).
 */
export async function readImageDeploy(
  c: Context,
): Promise<{ image: string; insecure: boolean; fields: Record<string, unknown> } | undefined> {
  if (!(c.req.header('content-type') ?? '').startsWith('application/json')) return undefined;
  const body = c.req.raw.body;
  const bytes = body ? await readCapped(body, IMAGE_DEPLOY_MAX) : new Uint8Array();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new KilnError('invalid_request', 'the JSON body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KilnError(
      'invalid_request',
      'the JSON body must be an object like {"image": "REGISTRY/REPO:TAG"}',
    );
  }
  const { image, insecure, ...fields } = parsed as Record<string, unknown>;
  if (typeof image !== 'string' || image === '') {
    throw new KilnError(
      'missing_image',
      'a JSON deploy needs "image": "REGISTRY/REPO:TAG" (a bundle is sent as application/gzip)',
    );
  }
  for (const [key, value] of Object.entries(c.req.query())) fields[key] = value;
  return { image, insecure: insecure === true, fields };
}

function bodyTooLarge(max: number): KilnError {
  return new KilnError(
    'bundle_too_large',
    `the request body is larger than ${Math.round(max / 1048576)} MiB`,
    413,
  );
}

async function readForm(type: string, bytes: Uint8Array): Promise<FormData> {
  try {
    return await new Response(bytes as unknown as BodyInit, { headers: { 'content-type': type } }).formData();
  } catch (err) {
    throw new KilnError('invalid_multipart', `the multipart body cannot be read: ${(err as Error).message}`);
  }
}

/** The whole body, refused (413) as soon as it passes `max` bytes. */
async function readCapped(body: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      void discard(reader, 0, max);
      throw bodyTooLarge(max);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * The body as a node stream. When the deployer stops reading early (a refused bundle), the
 * rest is read and dropped, up to `max` bytes, so the client gets the 4xx answer instead
 * of a reset connection; past that the connection is given up.
 */
function drainingReader(body: ReadableStream<Uint8Array>, max: number): Readable {
  const reader = body.getReader();
  let read = 0;
  let ended = false;
  return new Readable({
    read() {
      reader.read().then(
        ({ done, value }) => {
          if (done) {
            ended = true;
            this.push(null);
          } else {
            read += value.length;
            this.push(value);
          }
        },
        (err: Error) => this.destroy(err),
      );
    },
    destroy(err, callback) {
      if (!ended) void discard(reader, read, max);
      callback(err);
    },
  });
}

async function discard(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  read: number,
  max: number,
): Promise<void> {
  try {
    let total = read;
    while (total <= max) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.length;
    }
    await reader.cancel();
  } catch {
    // the client went away
  }
}

function parseSpecJson(text: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new KilnError('invalid_spec', 'the "spec" form field must be a JSON object');
}
