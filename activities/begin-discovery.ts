import { Context } from '@temporalio/activity';
import type { discoveryActivities } from './discovery.js';
import type { jobActivities } from './jobs.js';
import type { processingActivities } from './processing.js';

type Parts = Pick<ReturnType<typeof jobActivities>, 'startJob'> &
  Pick<ReturnType<typeof processingActivities>, 'adoptOwedProcessing'> &
  Pick<ReturnType<typeof discoveryActivities>, 'planScan'>;

export interface BeginDiscoveryInput {
  jobId: string;
  sourceId: string;
  fullSync: boolean;
  retryFailed: boolean;
  sourceObjectId?: string | null;
  dryRun?: boolean;
}

/**
 * A discovery's start in one activity (workflows/sync-run.ts, ONE_STEP_START):
 * the job marked running, owed processing adopted, the scan's split planned.
 * Three round trips through Temporal were most of a small or unchanged run's
 * fixed cost. Each part is idempotent, so a retry of the whole is too. A dry
 * run adopts nothing and lists as one scan.
 */
export function beginDiscoveryActivities(parts: Parts) {
  return {
    async beginDiscovery(input: BeginDiscoveryInput): Promise<{ shards: number }> {
      // Alive while any part runs (planScan may list the source's top level), so only a lost worker misses the heartbeat timeout.
      const actx = Context.current();
      const beat = setInterval(() => actx.heartbeat(), 10_000);
      try {
        await parts.startJob(input);
        if (input.dryRun) return { shards: 1 };
        await parts.adoptOwedProcessing({ jobId: input.jobId, sourceId: input.sourceId, retryFailed: input.retryFailed });
        return await parts.planScan({ jobId: input.jobId, sourceId: input.sourceId });
      } finally {
        clearInterval(beat);
      }
    },
  };
}
