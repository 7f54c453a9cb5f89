import { and, eq, isNull, sql } from 'drizzle-orm';
import { Context } from '@temporalio/activity';
import { jobs, sources } from '../db/schema.js';
import type { ActivityDeps } from './deps.js';

export interface CreateJobInput {
  jobId: string;
  sourceId: string;
  kind: 'discovery' | 'ingestion';
  trigger: 'schedule' | 'api' | 'direct_put';
  fullSync: boolean;
  retryFailed: boolean;
  dryRun?: boolean;
  sourceObjectId?: string | null;
  ruleId?: string | null;
}

export type JobOutcome = 'JOB_STATUS_SUCCEEDED' | 'JOB_STATUS_PARTIAL' | 'JOB_STATUS_FAILED' | 'JOB_STATUS_CANCELED';

export function jobActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    /** Idempotent: the workflow chooses the id, so a retried insert is a no-op. */
    async createJob(input: CreateJobInput): Promise<void> {
      const [source] = await db.select({ bucketId: sources.bucketId }).from(sources).where(eq(sources.id, input.sourceId));
      if (!source) return;
      await db
        .insert(jobs)
        .values({
          id: input.jobId,
          bucketId: source.bucketId,
          sourceId: input.sourceId,
          kind: input.kind,
          trigger: input.trigger,
          fullSync: input.fullSync,
          retryFailed: input.retryFailed,
          dryRun: input.dryRun ?? false,
          sourceObjectId: input.sourceObjectId ?? null,
          ruleId: input.ruleId ?? null,
        })
        .onConflictDoNothing();
    },

    /** Marks the job running, with the options it finally runs with (coalesced requests may have widened them). */
    async startJob(input: { jobId: string; sourceId: string; fullSync: boolean; retryFailed: boolean; sourceObjectId?: string | null }): Promise<void> {
      const info = Context.current().info;
      await db.transaction(async (tx) => {
        await tx
          .update(jobs)
          .set({
            fullSync: input.fullSync,
            retryFailed: input.retryFailed,
            sourceObjectId: input.sourceObjectId ?? null,
            status: 'JOB_STATUS_RUNNING',
            startedAt: sql`coalesce(${jobs.startedAt}, now())`,
            workflowId: info.workflowExecution?.workflowId ?? null,
            runId: sql`coalesce(${jobs.runId}, ${info.workflowExecution?.runId ?? null})`,
          })
          .where(and(eq(jobs.id, input.jobId), isNull(jobs.finishedAt)));
        await tx.update(sources).set({ currentJobId: input.jobId }).where(eq(sources.id, input.sourceId));
      });
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
      return db.transaction(async (tx) => {
        const [job] = await tx.select().from(jobs).where(eq(jobs.id, input.jobId)).for('update');
        const [source] = await tx.select({ consecutiveFailures: sources.consecutiveFailures }).from(sources).where(eq(sources.id, input.sourceId));
        if (!job || !source) return { status: 'JOB_STATUS_CANCELED' as JobOutcome, consecutiveFailures: 0 };
        if (job.finishedAt) return { status: job.status as JobOutcome, consecutiveFailures: source.consecutiveFailures };
        const status: JobOutcome = input.canceled
          ? 'JOB_STATUS_CANCELED'
          : input.failed
            ? 'JOB_STATUS_FAILED'
            : job.objectsFailed > 0 || job.objectsIndexed < job.objectsProcessed
              ? 'JOB_STATUS_PARTIAL'
              : 'JOB_STATUS_SUCCEEDED';
        const failedRun = status === 'JOB_STATUS_FAILED';
        await tx
          .update(jobs)
          .set({ status, finishedAt: sql`now()`, error: input.error?.slice(0, 1000) ?? null })
          .where(eq(jobs.id, input.jobId));
        // A dry run reports; it is not a sync of the source.
        if (input.dryRun) {
          await tx.update(sources).set({ currentJobId: null }).where(eq(sources.id, input.sourceId));
          return { status, consecutiveFailures: source.consecutiveFailures };
        }
        const [updated] = await tx
          .update(sources)
          .set({
            currentJobId: null,
            lastJobId: input.jobId,
            lastSyncAt: sql`now()`,
            ...(failedRun
              ? { consecutiveFailures: sql`${sources.consecutiveFailures} + 1`, lastError: input.error?.slice(0, 1000) ?? 'sync failed' }
              : input.canceled
                ? {}
                : { consecutiveFailures: 0, lastSuccessAt: sql`now()`, lastError: null }),
          })
          .where(eq(sources.id, input.sourceId))
          .returning({ consecutiveFailures: sources.consecutiveFailures });
        return { status, consecutiveFailures: updated?.consecutiveFailures ?? 0 };
      });
    },
  };
}
