import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import { receiveBundle } from '../../build/bundle.js';
import { packDir } from '../../build/pack-dir.js';
import { KilnError } from '../../errors.js';
import type { Kiln } from '../../kiln.js';
import { applyStack, type StackTarget } from '../../stack/stack-apply.js';
import {
  type LoadedStack,
  loadStackFile,
  planAgainst,
  planLines,
  type StackPlan,
} from '../../stack/stack-loader.js';
import { readDeployRequest } from '../deploy-input.js';
import { tracedDeploy } from '../traced-deploy.js';
import type { RouteContext } from './route-context.js';

/** The stack file a stack's bundle holds at its root. */
const STACK_FILE = 'kiln.yaml';

/**
 * Stacks without the CLI: the body is a gzip tar of a stack's directory (`kiln.yaml` at its
 * root, each function's `dir` inside it), checked as a deploy's bundle is. `plan` answers
 * what `kiln diff` prints; `apply` does what `kiln apply` does, through the same plan
 * (`planAgainst`) and the same steps (`applyStack`), on this gateway's deployer and stores.
 * `?prune=1` adds removals of functions the file does not name.
 */
export function register({ app, kiln, control, maxDeployBytes }: RouteContext): void {
  app.post('/stacks/plan', control, (c) =>
    withStack(kiln, c, maxDeployBytes, async (stack, prune) => {
      const planned = await plan(kiln, stack, prune);
      return c.json({ ...planned, lines: planLines(planned) });
    }),
  );
  app.post('/stacks/apply', control, (c) =>
    withStack(kiln, c, maxDeployBytes, async (stack, prune) => {
      const planned = await plan(kiln, stack, prune);
      const outcomes = await applyStack(planned, stack.functions, onGateway(kiln, c.req.header()));
      const failed = outcomes.filter((o) => !o.ok);
      if (failed.length === 0) return c.json({ steps: outcomes });
      const error = new KilnError(
        'stack_apply_failed',
        `${failed.length} of ${outcomes.length} steps failed: ${failed.map((o) => o.line).join('; ')}`,
      );
      return c.json({ ...error.toJSON(), steps: outcomes }, 400);
    }),
  );
}

async function plan(kiln: Kiln, stack: LoadedStack, prune: boolean): Promise<StackPlan> {
  const secrets = new Set((await kiln.secrets.list()).map((s) => s.name));
  const volumes = new Set((await kiln.volumes.list()).map((v) => v.name));
  return planAgainst(stack, { secrets, volumes, functions: kiln.functions.list() }, { prune });
}

/** Receive the stack's bundle into a work dir, load its `kiln.yaml`, run `use`, remove the dir. */
async function withStack(
  kiln: Kiln,
  c: Context,
  maxDeployBytes: number,
  use: (stack: LoadedStack, prune: boolean) => Promise<Response>,
): Promise<Response> {
  const request = await readDeployRequest(c, maxDeployBytes);
  const prune = ['1', 'true'].includes(String(request.fields.prune ?? ''));
  const work = await mkdtemp(path.join(kiln.data.tmp, 'stack-'));
  try {
    const root = path.join(work, 'src');
    const body = request.bundle instanceof Readable ? request.bundle : Readable.from([request.bundle]);
    await receiveBundle(body, root);
    const stack = await loadStackFile(path.join(root, STACK_FILE), { shownAs: STACK_FILE, within: root });
    return await use(stack, prune);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** This gateway as a stack's target: what `POST /volumes`, `POST /functions`, the alias route and `DELETE` do. */
function onGateway(kiln: Kiln, headers: Record<string, string>): StackTarget {
  return {
    createVolume: async (name) => {
      await kiln.volumes.create(name);
    },
    deploy: async (fn) => {
      const bundle = await packDir(fn.absDir);
      const { result } = await tracedDeploy(kiln, headers, fn.name, (phases) =>
        kiln.deployer.deploy({ bundle, fields: fn.query, phases }),
      );
      return { version: result.version.version, unchanged: result.unchanged };
    },
    setAlias: async (name, alias, version) => {
      await kiln.functions.setAlias(name, alias, version);
    },
    remove: (name) => kiln.removeFunction(name),
  };
}
