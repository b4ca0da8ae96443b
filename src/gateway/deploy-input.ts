import type { Context } from 'hono';
import type { DeployRequest } from '../deploy/deployer.js';
import { KilnError } from '../errors.js';
import { SPEC_FIELDS } from '../functions/spec.js';

/**
 * Read a deploy from either form docs/DESIGN.md §6 allows: a raw gzip tar body with the spec in
 * the query (or `x-kiln-<field>` headers), or multipart with a `bundle` file and spec
 * fields beside it. Query parameters win over headers, which win over kiln.json.
 */
export async function readDeployRequest(c: Context): Promise<DeployRequest> {
  const fields: Record<string, unknown> = {};
  for (const field of SPEC_FIELDS) {
    const header = c.req.header(`x-kiln-${field.toLowerCase()}`);
    if (header !== undefined) fields[field] = header;
  }
  let bundle: Uint8Array | undefined;
  const type = c.req.header('content-type') ?? '';
  if (type.startsWith('multipart/form-data')) {
    const form = await c.req.formData();
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') {
        if (key === 'spec') Object.assign(fields, parseSpecJson(value));
        else fields[key] = value;
      } else if (key === 'bundle' || bundle === undefined) {
        bundle = new Uint8Array(await value.arrayBuffer());
      }
    }
  } else {
    bundle = new Uint8Array(await c.req.arrayBuffer());
  }
  for (const [key, value] of Object.entries(c.req.query())) fields[key] = value;
  return { bundle: bundle ?? new Uint8Array(), fields };
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
