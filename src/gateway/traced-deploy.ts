import type { DeployResult } from '../deploy/deployer.js';
import { errorAnswer } from '../errors.js';
import type { Kiln } from '../kiln.js';
import type { PhaseRecorder } from '../telemetry/phase-recorder.js';

/**
 * A deploy as the gateway counts and traces it (`POST /functions`, and each function of a
 * stack `POST /stacks/apply` deploys): `run` gets the phase recorder; the outcome goes to the
 * deploy's span, metrics and log line. Answers the result and the `Server-Timing` value.
 */
export async function tracedDeploy(
  kiln: Kiln,
  headers: Record<string, string>,
  nameHint: string | undefined,
  run: (phases: PhaseRecorder) => Promise<DeployResult>,
): Promise<{ result: DeployResult; serverTiming: string }> {
  const deploy = kiln.telemetry.deploy(headers, nameHint);
  let result: DeployResult;
  try {
    result = await run(deploy.phases);
  } catch (err) {
    const answer = errorAnswer(err);
    deploy.failed(answer.status, answer.body.error.code);
    throw err;
  }
  deploy.succeeded({
    function: result.record.name,
    version: result.version.version,
    runtime: result.record.runtime,
    layerReused: result.layerReused,
  });
  return { result, serverTiming: deploy.phases.serverTiming() };
}
