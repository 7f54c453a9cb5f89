import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobBatches, jobs, sources } from '../db/schema.js';
import { failuresAfterFailedRun, madeProgress } from '../domain/failure-budget.js';
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
    // The job row, locked, says whether this is its start or a retry's: only a start counts as a sync execution.
    const [job] = await tx.select({ status: jobs.status, dryRun: jobs.dryRun }).from(jobs).where(eq(jobs.id, input.jobId)).for('update');
    if (job?.status === JOB_STATUS.pending && !job.dryRun)
      await tx
        .update(sources)
        .set({ runCounter: sql`${sources.runCounter} + 1` })
        .where(eq(sources.id, input.sourceId));
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

/** Ends a job once; failures count toward the source's consecutive failures, by how far the run got (domain/failure-budget.ts). */
export async function finishJob(
  db: Db,
  input: { jobId: string; sourceId: string; failed: boolean; canceled?: boolean; dryRun?: boolean; error?: string },
): Promise<{ status: JobOutcome; consecutiveFailures: number }> {
  return db.transaction(async (tx) => {
    const [job] = await tx.select().from(jobs).where(eq(jobs.id, input.jobId)).for('update');
    const [source] = await tx.select({ consecutiveFailures: sources.consecutiveFailures }).from(sources).where(eq(sources.id, input.sourceId)).for('update');
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
    // Its batches are counted; their keys are needed no longer.
    await tx.delete(jobBatches).where(eq(jobBatches.jobId, input.jobId));
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
          ? {
              consecutiveFailures: failuresAfterFailedRun(source.consecutiveFailures, madeProgress(job)),
              lastError: input.error?.slice(0, 1000) ?? 'sync failed',
            }
          : input.canceled
            ? {}
            : // An event run looks at a few named keys: its success says nothing of a failing listing.
              job.trigger === 'event'
              ? { lastSuccessAt: sql`now()` }
              : { consecutiveFailures: 0, lastSuccessAt: sql`now()`, lastError: null }),
      })
      .where(eq(sources.id, input.sourceId))
      .returning({ consecutiveFailures: sources.consecutiveFailures });
    return { status, consecutiveFailures: updated?.consecutiveFailures ?? 0 };
  });
}

/** A finished job's end as finishJob answered it, with the scan's counters; null while it runs. */
export async function endedJob(
  db: Db,
  jobId: string,
): Promise<{ status: JobOutcome; consecutiveFailures: number; listed: number; discovered: number; deleted: number } | null> {
  const [row] = await db
    .select({
      status: jobs.status,
      finishedAt: jobs.finishedAt,
      consecutiveFailures: sources.consecutiveFailures,
      listed: jobs.objectsListed,
      discovered: jobs.objectsDiscovered,
      deleted: jobs.objectsDeleted,
    })
    .from(jobs)
    .innerJoin(sources, eq(sources.id, jobs.sourceId))
    .where(eq(jobs.id, jobId));
  if (!row?.finishedAt) return null;
  const { status, consecutiveFailures, listed, discovered, deleted } = row;
  return { status: status as JobOutcome, consecutiveFailures, listed, discovered, deleted };
}

/**
 * Ends a job whose workflow closed without ending it (terminated by an
 * operator, timed out, failed outside its own catch): failed with the reason,
 * or canceled when it was cancelled. A job its workflow did end keeps that
 * end: the answer is then what it was. A dry run's end counts nothing toward
 * the source, as it would had the run ended it.
 */
export async function finishAbandonedJob(
  db: Db,
  input: { jobId: string; sourceId: string; reason: string; canceled: boolean },
): Promise<{ status: JobOutcome; consecutiveFailures: number }> {
  const [job] = await db.select({ dryRun: jobs.dryRun }).from(jobs).where(eq(jobs.id, input.jobId));
  return finishJob(db, {
    jobId: input.jobId,
    sourceId: input.sourceId,
    failed: !input.canceled,
    canceled: input.canceled,
    dryRun: job?.dryRun,
    error: input.reason,
  });
}

/** Jobs marked running, with the workflow that runs them: the periodic check looks for those whose workflow has closed. */
export async function runningJobs(db: Db): Promise<{ jobId: string; sourceId: string; workflowId: string | null }[]> {
  return db.select({ jobId: jobs.id, sourceId: jobs.sourceId, workflowId: jobs.workflowId }).from(jobs).where(eq(jobs.status, JOB_STATUS.running));
}

/**
 * Records a scheduled poll that found nothing owed, once: a finished discovery
 * job (SUCCEEDED, trigger `schedule`, nothing owed, what it listed) and the
 * source's sync as a successful job's end records it, with the next poll one
 * interval after it. A retry finds the row and answers when it was recorded,
 * changing nothing. Returns that time (epoch ms).
 */
export async function recordIdlePoll(
  db: Db,
  input: { jobId: string; sourceId: string; startedAt: Date; listed: number; pages: number; syncIntervalSeconds: number },
  run: { workflowId: string | null; runId: string | null },
): Promise<number> {
  return db.transaction(async (tx) => {
    const [source] = await tx.select({ bucketId: sources.bucketId }).from(sources).where(eq(sources.id, input.sourceId)).for('update');
    const [existing] = await tx.select({ finishedAt: jobs.finishedAt }).from(jobs).where(eq(jobs.id, input.jobId));
    if (existing?.finishedAt) return existing.finishedAt.getTime();
    const at = new Date();
    if (!source) return at.getTime();
    await tx.insert(jobs).values({
      id: input.jobId,
      bucketId: source.bucketId,
      sourceId: input.sourceId,
      kind: 'discovery',
      trigger: 'schedule',
      fullSync: false,
      retryFailed: false,
      status: JOB_STATUS.succeeded,
      objectsListed: input.listed,
      pagesListed: input.pages,
      workflowId: run.workflowId,
      runId: run.runId,
      startedAt: input.startedAt,
      finishedAt: at,
    });
    await tx
      .update(sources)
      .set({
        lastJobId: input.jobId,
        lastSyncAt: at,
        lastSuccessAt: at,
        consecutiveFailures: 0,
        lastError: null,
        // An idle poll is a sync execution too, counted once: a retry returned above.
        runCounter: sql`${sources.runCounter} + 1`,
        nextSyncAt: new Date(at.getTime() + input.syncIntervalSeconds * 1000),
      })
      .where(eq(sources.id, input.sourceId));
    return at.getTime();
  });
}
