import type { LoadedFunction, StackPlan } from './stack-loader.js';
import { runInDependencyOrder } from './stack-order.js';
import type { StackStep } from './stack-plan.js';

/** Deploys at once: the gateway builds one per core, and uploads overlap the builds. */
export const PARALLEL_DEPLOYS = 3;

/**
 * What applying a stack changes, whoever does it: the CLI over the gateway's HTTP API
 * (`kiln apply`), the gateway on itself (`POST /stacks/apply`). Each step of a plan is one
 * or more of these calls.
 */
export interface StackTarget {
  createVolume(name: string): Promise<void>;
  /** Deploy a function of the stack from its dir and fields: the version made, or the active one when unchanged. */
  deploy(fn: LoadedFunction): Promise<{ version: number; unchanged?: boolean }>;
  setAlias(name: string, alias: string, version: number): Promise<void>;
  remove(name: string): Promise<void>;
}

/** How one step ended, with the line `kiln apply` prints for it. */
export interface StepOutcome {
  name: string;
  kind: StackStep['kind'] | 'skipped' | 'volume';
  ok: boolean;
  /** The version active after a create or an update. */
  version?: number;
  line: string;
}

/**
 * Run a plan (`planAgainst`) against `target`: the new volumes first (a deploy naming a
 * missing one is refused; a failure throws before any deploy; prune never removes one: data),
 * then the steps, `PARALLEL_DEPLOYS` at a time, each after the steps of the functions it
 * `dependsOn` (a failed one skips its dependents). `onStep` hears each outcome as it ends;
 * the answer is all of them.
 */
export async function applyStack(
  plan: StackPlan,
  desired: LoadedFunction[],
  target: StackTarget,
  onStep: (outcome: StepOutcome) => void = () => undefined,
): Promise<StepOutcome[]> {
  const byName = new Map(desired.map((d) => [d.name, d]));
  const outcomes: StepOutcome[] = [];
  const record = (outcome: StepOutcome) => {
    outcomes.push(outcome);
    onStep(outcome);
  };
  for (const name of plan.newVolumes) {
    await target.createVolume(name);
    record({ name, kind: 'volume', ok: true, line: `volume ${name}: created` });
  }
  await runInDependencyOrder(
    plan.steps.map((step) => ({
      name: step.name,
      dependsOn: byName.get(step.name)?.dependsOn ?? [],
      run: async () => {
        const outcome = await runStep(step, byName.get(step.name), target);
        record(outcome);
        return outcome.ok;
      },
    })),
    {
      concurrency: PARALLEL_DEPLOYS,
      onSkip: (name, failed) =>
        record({ name, kind: 'skipped', ok: false, line: `${name}: skipped: ${failed.join(', ')} failed` }),
    },
  );
  return outcomes;
}

/** One step: what was done and how long it took, or why it failed. */
async function runStep(
  step: StackStep,
  fn: LoadedFunction | undefined,
  target: StackTarget,
): Promise<StepOutcome> {
  const started = Date.now();
  try {
    const { done, version } = await run(step, fn, target);
    const took = step.kind === 'unchanged' ? '' : ` (${Date.now() - started} ms)`;
    return { name: step.name, kind: step.kind, ok: true, version, line: `${step.name}: ${done}${took}` };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const shown = typeof code === 'string' ? ` [${code}]` : '';
    return {
      name: step.name,
      kind: step.kind,
      ok: false,
      line: `${step.name}: failed: ${(err as Error).message}${shown}`,
    };
  }
}

async function run(
  step: StackStep,
  fn: LoadedFunction | undefined,
  target: StackTarget,
): Promise<{ done: string; version?: number }> {
  switch (step.kind) {
    case 'unchanged':
      return { done: 'unchanged' };
    case 'remove':
      await target.remove(step.name);
      return { done: 'removed' };
    default: {
      let version: number;
      let done: string;
      if (step.kind === 'update' && !step.redeploy) {
        version = step.activeVersion;
        done = `version ${version}`;
      } else {
        const result = await target.deploy(fn!);
        version = result.version;
        done =
          step.kind === 'create'
            ? `created version ${version}`
            : `${result.unchanged ? 'unchanged at' : 'updated to'} version ${version}`;
      }
      for (const alias of fn!.aliases) await target.setAlias(step.name, alias, version);
      return { done: step.kind === 'update' ? `${done} (${step.changes.join('; ')})` : done, version };
    }
  }
}
