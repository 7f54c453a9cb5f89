import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobs, sources } from '../db/schema.js';
import { JOB_STATUS, type JobOutcome } from './status.js';

type JobRow = typeof jobs.$inferInsert;

export interface NewJob {
  jobId: string;
  sourceId: string;
  kind: JobRow['kind'];
  trigger: JobRow['trigger'];
  fullSync: boolean;
  retryFailed: boolean;
  dryRun?: boolean;
  sourceObjectId?: string | null;
  ruleId?: string | null;
}

/** Idempotent: the workflow chooses the id, so a retried insert is a no-op. */
export async function createJob(db: Db, input: NewJob): Promise<void> {
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
}

/** Marks the job running, with the options it finally runs with (coalesced requests may have widened them). */
export async function startJob(
  db: Db,
  input: { jobId: string; sourceId: string; fullSync: boolean; retryFailed: boolean; sourceObjectId?: string | null },
  run: { workflowId: string | null; runId: string | null },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(jobs)
      .set({
        fullSync: input.fullSync,
        retryFailed: input.retryFailed,
        sourceObjectId: input.sourceObjectId ?? null,
        status: JOB_STATUS.running,
        startedAt: sql`coalesce(${jobs.startedAt}, now())`,
        workflowId: run.workflowId,
        runId: sql`coalesce(${jobs.runId}, ${run.runId})`,
      })
      .where(and(eq(jobs.id, input.jobId), isNull(jobs.finishedAt)));
    await tx.update(sources).set({ currentJobId: input.jobId }).where(eq(sources.id, input.sourceId));
  });
}

/** Ends a job once; failures count toward the source's consecutive failures. */
export async function finishJob(
  db: Db,
  input: { jobId: string; sourceId: string; failed: boolean; canceled?: boolean; dryRun?: boolean; error?: string },
): Promise<{ status: JobOutcome; consecutiveFailures: number }> {
  return db.transaction(async (tx) => {
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, input.jobId)).for('update');
    const [source] = await tx.select({ consecutiveFailures: sources.consecutiveFailures }).from(sources).where(eq(sources.id, input.sourceId));
    if (!job || !source) return { status: JOB_STATUS.canceled as JobOutcome, consecutiveFailures: 0 };
    if (job.finishedAt) return { status: job.status as JobOutcome, consecutiveFailures: source.consecutiveFailures };
    const status: JobOutcome = input.canceled
      ? JOB_STATUS.canceled
      : input.failed
        ? JOB_STATUS.failed
        : job.objectsFailed > 0 || job.objectsIndexed < job.objectsProcessed
          ? JOB_STATUS.partial
          : JOB_STATUS.succeeded;
    const failedRun = status === JOB_STATUS.failed;
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
}
