// Sync latency while async work drains (issue 15: "sync latency stays bounded while 1 000
// async invocations drain"): one node function with two slots; sequential sync requests
// alone, then the same while N async invocations of the same function run. Async work holds
// at most half the slots (src/async/retry-policy.ts, asyncSlots), so the sync numbers should
// move by about one async invocation's time, not by the queue's length.
import path from 'node:path';

const FUNCTIONS = path.resolve(import.meta.dirname, '../functions');
const NAME = 'async-drain';

async function timedSync(gw) {
  const started = performance.now();
  const res = await gw.call('GET', `/fn/${NAME}/`);
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`sync GET: ${res.status} ${res.text}`);
  return ms;
}

export async function runAsyncDrain(gw, { invocations, syncRequests }) {
  await gw.deploy(path.join(FUNCTIONS, 'hello-node'), {
    name: NAME,
    runtime: 'node',
    maxInstances: '2',
    maxAsyncQueue: String(invocations + 100),
    asyncRetentionMs: '60000',
  });
  await timedSync(gw);
  const alone = [];
  for (let i = 0; i < syncRequests; i++) alone.push(await timedSync(gw));

  // Submitted in batches of 50 at once; each 202 means the invocation is on disk (fsynced).
  const submitMs = [];
  const ids = [];
  const submitStarted = performance.now();
  for (let sent = 0; sent < invocations; sent += 50) {
    const batch = Math.min(50, invocations - sent);
    const answers = await Promise.all(
      Array.from({ length: batch }, async () => {
        const started = performance.now();
        const res = await gw.call('POST', `/async/${NAME}/`, 'x');
        if (res.status !== 202) throw new Error(`async POST: ${res.status} ${res.text}`);
        submitMs.push(performance.now() - started);
        return JSON.parse(res.text).id;
      }),
    );
    ids.push(...answers);
  }
  const submitSeconds = (performance.now() - submitStarted) / 1000;
  const submitEnded = performance.now();

  // Sync requests while the queue drains, until every invocation is finished (a retried or
  // requeued one may finish after the last submitted).
  const during = [];
  const pending = async () => {
    const { invocations: all } = await gw.json('GET', `/async?function=${NAME}`);
    const states = {};
    for (const inv of all) states[inv.state] = (states[inv.state] ?? 0) + 1;
    return { count: (states.queued ?? 0) + (states.running ?? 0), states };
  };
  let states;
  const { count: pendingAfterSubmit } = await pending();
  for (;;) {
    const now = await pending();
    if (now.count === 0) {
      states = now.states;
      break;
    }
    for (let i = 0; i < 20; i++) during.push(await timedSync(gw));
  }
  const drainSeconds = (performance.now() - submitStarted) / 1000;
  // The drain rate once nothing more is submitted: what async work alone gets through.
  const drainRate = pendingAfterSubmit / ((performance.now() - submitEnded) / 1000);
  await gw.call('DELETE', `/functions/${NAME}`);
  return {
    invocations,
    alone,
    during,
    submitMs,
    submitSeconds,
    drainSeconds,
    pendingAfterSubmit,
    drainRate,
    states,
  };
}
