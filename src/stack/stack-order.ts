import PQueue from 'p-queue';

/**
 * Run named tasks at most `concurrency` at a time, each after the tasks it depends on have
 * succeeded (compose's `depends_on`): a task whose dependency failed or was skipped is not
 * run (`onSkip` says which failed). Names a task depends on that are not among the tasks are
 * ignored (nothing to wait for). The caller has refused cycles (`dependencyCycle`).
 * Resolves with each task's success, by name.
 */
export async function runInDependencyOrder(
  tasks: { name: string; dependsOn: string[]; run: () => Promise<boolean> }[],
  options: { concurrency: number; onSkip(name: string, failed: string[]): void },
): Promise<Map<string, boolean>> {
  const queue = new PQueue({ concurrency: options.concurrency });
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const outcomes = new Map<string, Promise<boolean>>();
  const outcome = (name: string): Promise<boolean> => {
    let done = outcomes.get(name);
    if (done) return done;
    const task = byName.get(name)!;
    done = (async () => {
      const deps = task.dependsOn.filter((d) => byName.has(d));
      const results = await Promise.all(deps.map(outcome));
      const failed = deps.filter((_, i) => !results[i]);
      if (failed.length) {
        options.onSkip(name, failed);
        return false;
      }
      return (await queue.add(task.run)) ?? false;
    })();
    outcomes.set(name, done);
    return done;
  };
  const results = await Promise.all(tasks.map((t) => outcome(t.name)));
  return new Map(tasks.map((t, i) => [t.name, results[i]!]));
}
