import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import type { Logger } from 'pino';

export type MakeCurrentOutcome = 'set' | 'already-current' | 'newer-is-current' | 'chosen-since';

/**
 * `LAKESYNC_WORKER_SET_CURRENT`: makes this worker's build the current version
 * of its worker deployment, as `temporal worker deployment set-current-version`
 * would, so every workflow moves to it at its next task. It waits until the
 * server has seen this build's pollers (the server refuses a version without
 * them), and never takes over from a build registered after this one (an old
 * replica restarting in the middle of a rollout must not roll it back) nor
 * from one made current after this build was registered (a replica of the
 * newer build restarting after an operator's rollback must not undo it).
 * Rolling back is the operator's `set-current-version`.
 */
export async function makeCurrent(o: {
  temporal: Client;
  namespace: string;
  version: WorkerDeploymentVersion;
  log: Logger;
  timeoutMs?: number;
}): Promise<MakeCurrentOutcome> {
  const { deploymentName, buildId } = o.version;
  const service = o.temporal.workflowService;
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  let lastProblem = 'nothing tried yet';
  for (let wait = 200; ; wait = Math.min(wait * 2, 2000)) {
    try {
      const { workerDeploymentInfo: info, conflictToken } = await service.describeWorkerDeployment({ namespace: o.namespace, deploymentName });
      const versions = info?.versionSummaries ?? [];
      const current = info?.routingConfig?.currentDeploymentVersion?.buildId || undefined;
      if (current === buildId) return 'already-current';
      const registered = (id: string) => optionalTsToMs(versions.find((v) => v.deploymentVersion?.buildId === id)?.createTime);
      const mine = registered(buildId);
      if (mine === undefined) {
        lastProblem = `the server has not seen build ${buildId}'s pollers yet`;
      } else {
        const currentRegistered = current === undefined ? undefined : registered(current);
        if (currentRegistered !== undefined && currentRegistered > mine) {
          o.log.warn(
            { deploymentName, buildId, current },
            'a newer build is current: leaving it so (roll back with `temporal worker deployment set-current-version`)',
          );
          return 'newer-is-current';
        }
        // Made current after this build was registered: someone chose it knowing this build (an operator's rollback), so a replica
        // of this build restarting must not undo that.
        const chosenAt = optionalTsToMs(info?.routingConfig?.currentVersionChangedTime);
        if (current !== undefined && chosenAt !== undefined && chosenAt > mine) {
          o.log.warn(
            { deploymentName, buildId, current },
            'the current build was chosen after this one was registered: leaving it so (an operator roll back; move on with `temporal worker deployment set-current-version`)',
          );
          return 'chosen-since';
        }
        await service.setWorkerDeploymentCurrentVersion({
          namespace: o.namespace,
          deploymentName,
          buildId,
          conflictToken,
          identity: `lakesync-worker ${process.pid}@${hostname()}`,
        });
        o.log.info({ deploymentName, buildId, previous: current ?? 'unversioned' }, 'this build is now the current version of its worker deployment');
        return 'set';
      }
    } catch (err) {
      // NOT_FOUND before the deployment's first pollers register; FAILED_PRECONDITION / ABORTED when it changed under us.
      lastProblem = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() + wait > deadline) throw new Error(`could not make build ${buildId} current in worker deployment ${deploymentName}: ${lastProblem}`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
