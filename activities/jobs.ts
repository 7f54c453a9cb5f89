import { Context } from '@temporalio/activity';
import * as catalog from '../catalog/index.js';
import type { JobOutcome, NewJob } from '../catalog/index.js';
import type { ActivityDeps } from './deps.js';

export type { JobOutcome } from '../catalog/index.js';

export function jobActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    /** Idempotent: the workflow chooses the id, so a retried insert is a no-op. */
    async createJob(input: NewJob): Promise<void> {
      await catalog.createJob(db, input);
    },

    /** Marks the job running, with the options it finally runs with (coalesced requests may have widened them). */
    async startJob(input: { jobId: string; sourceId: string; fullSync: boolean; retryFailed: boolean; sourceObjectId?: string | null }): Promise<void> {
      const run = Context.current().info.workflowExecution;
      await catalog.startJob(db, input, { workflowId: run?.workflowId ?? null, runId: run?.runId ?? null });
    },

    /** Ends a job once; failures count toward the source's consecutive failures. */
    async finishJob(input: {
      jobId: string;
      sourceId: string;
      failed: boolean;
      canceled?: boolean;
      dryRun?: boolean;
      error?: string;
    }): Promise<{ status: JobOutcome; consecutiveFailures: number }> {
      return catalog.finishJob(db, input);
    },

    /** Ends a job whose workflow closed without ending it (terminated, timed out, failed or cancelled outside its own catch). */
    async finishAbandonedJob(input: {
      jobId: string;
      sourceId: string;
      reason: string;
      canceled: boolean;
    }): Promise<{ status: JobOutcome; consecutiveFailures: number }> {
      return catalog.finishAbandonedJob(db, input);
    },
  };
}
