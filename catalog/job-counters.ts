import type { ISql } from 'postgres';
import type { CursorMove } from './quiet-page.js';

/**
 * A job's counters (and the source totals that move with them). Each is
 * called inside the transaction that makes the change it counts, guarded so a
 * retried activity changes nothing twice: counters stay exact across crashes.
 */

export interface JobRef {
  jobId: string;
  sourceId: string;
}

/** A scan page made objects owed: fresh (new or back) and changed; adopted ones were counted already when processing took them over. */
export async function countOwed(tx: ISql, ref: JobRef, n: { fresh: number; changed: number; adopted: number }): Promise<void> {
  if (n.fresh + n.changed === 0) return;
  await tx`update jobs set objects_discovered = objects_discovered + ${n.fresh + n.changed - n.adopted}, objects_new = objects_new + ${n.fresh}, objects_changed = objects_changed + ${n.changed} where id = ${ref.jobId}`;
  await tx`update sources set total_objects_discovered = total_objects_discovered + ${n.fresh + n.changed} where id = ${ref.sourceId}`;
}

/** Owed objects left for the next run by maxObjectsPerRun. */
export async function countDeferred(tx: ISql, ref: JobRef, n: number): Promise<void> {
  await tx`update jobs set objects_discovered = objects_discovered - ${n}, objects_deferred = objects_deferred + ${n} where id = ${ref.jobId}`;
  await tx`update sources set total_objects_discovered = total_objects_discovered - ${n} where id = ${ref.sourceId}`;
}

/** Lake objects removed because they drifted out of the filters. */
export async function countRemoved(tx: ISql, jobId: string, n: number): Promise<void> {
  if (n > 0) await tx`update jobs set objects_removed = objects_removed + ${n} where id = ${jobId}`;
}

/** Objects swept as deleted at the source, and how many of them left the lake. */
export async function countDeleted(tx: ISql, jobId: string, n: { marked: number; removed: number }): Promise<void> {
  if (n.marked > 0)
    await tx`update jobs set objects_deleted = objects_deleted + ${n.marked}, objects_removed = objects_removed + ${n.removed} where id = ${jobId}`;
}

/**
 * The scan's durable checkpoint, with the page's diff: moves only from where
 * this attempt found it (locking the job row), so an attempt that lost its
 * heartbeat and kept going can never re-diff pages a newer attempt committed.
 * Returns false when a newer attempt moved it on.
 */
export async function advanceScanCursor(tx: ISql, jobId: string, cp: ScanCursor): Promise<boolean> {
  const moved = await scanCursorUpdate(tx, jobId, cp);
  return moved.count > 0;
}

type ScanCursor = { pass: number; from: string | null; to: string | null; listed: number };

// Never on a finished job: a scan that ended its job (SCAN_ENDS_JOB) may have a stale attempt still listing.
const scanCursorUpdate = (tx: ISql, jobId: string, cp: ScanCursor) =>
  tx`update jobs set objects_listed = ${cp.listed}, pages_listed = pages_listed + 1, scan_pass = ${cp.pass}, scan_cursor = ${cp.to}
    where id = ${jobId} and finished_at is null and scan_cursor is not distinct from ${cp.from} and (scan_pass is null or scan_pass = ${cp.pass})`;

/** advanceScanCursor for commitQuietPage: made only if the page is quiet. */
export const scanCursorMove = (tx: ISql, jobId: string, cp: ScanCursor): CursorMove =>
  tx`moved as (${scanCursorUpdate(tx, jobId, cp)} and (select ok from quiet) returning 1)`;

/** A shard's page listed: counted last in the page's transaction, so shards hold the job row only while they commit. */
export async function countListed(tx: ISql, jobId: string, listed: number): Promise<void> {
  await listedCount(tx, jobId, listed);
}

/** countListed's statement, for a quiet shard page's commit (shardCursorMove) to guard. */
export const listedCount = (tx: ISql, jobId: string, listed: number) =>
  tx`update jobs set objects_listed = objects_listed + ${listed}, pages_listed = pages_listed + 1 where id = ${jobId}`;

/** The scan has listed everything (and swept): its cursor stops being a running scan's resume point. */
export async function finishScan(sql: ISql, jobId: string): Promise<void> {
  await sql`update jobs set scan_finished_at = coalesce(scan_finished_at, now()) where id = ${jobId}`;
}

/** A dry run's report: what the scan would have changed. */
export async function recordPreview(
  sql: ISql,
  jobId: string,
  p: { fresh: number; changed: number; discovered: number; deleted: number; removed: number },
): Promise<void> {
  await sql`update jobs set objects_new = ${p.fresh}, objects_changed = ${p.changed}, objects_discovered = ${p.discovered},
          objects_deleted = ${p.deleted}, objects_removed = ${p.removed} where id = ${jobId}`;
}

/** Objects copied (or catalogued): those with no pipeline to run are finished now. */
export async function countCopied(tx: ISql, ref: JobRef, n: { copied: number; finished: number; bytes: number }): Promise<void> {
  await tx`update jobs set objects_processed = objects_processed + ${n.finished}, objects_indexed = objects_indexed + ${n.finished}, bytes_transferred = bytes_transferred + ${n.bytes} where id = ${ref.jobId}`;
  await tx`update sources set total_objects_synced = total_objects_synced + ${n.copied}, total_bytes_synced = total_bytes_synced + ${n.bytes} where id = ${ref.sourceId}`;
}

/** One object not copied because its content already sits in the lake. */
export async function countSkipped(tx: ISql, jobId: string, finished: number): Promise<void> {
  await tx`update jobs set objects_processed = objects_processed + ${finished}, objects_indexed = objects_indexed + ${finished}, objects_skipped = objects_skipped + 1 where id = ${jobId}`;
}

/** One object dead-lettered. */
export async function countDeadLettered(tx: ISql, ref: JobRef): Promise<void> {
  await tx`update jobs set objects_failed = objects_failed + 1 where id = ${ref.jobId}`;
  await tx`update sources set total_objects_failed = total_objects_failed + 1 where id = ${ref.sourceId}`;
}

/** What an ingestion job owes, set once before it has counted anything else. */
export async function setIngestionOwed(tx: ISql, jobId: string, n: number): Promise<void> {
  await tx`update jobs set objects_discovered = ${n} where id = ${jobId} and objects_processed = 0 and objects_failed = 0`;
}

/** What a rule re-run owes, set once before it has processed anything. */
export async function setRuleRunOwed(sql: ISql, jobId: string, n: number): Promise<void> {
  await sql`update jobs set objects_discovered = ${n} where id = ${jobId} and objects_processed = 0`;
}

/** Stored objects whose processing this job took over. */
export async function countAdopted(tx: ISql, jobId: string, n: number): Promise<void> {
  if (n > 0) await tx`update jobs set objects_discovered = objects_discovered + ${n} where id = ${jobId}`;
}

/** One object through its pipelines; indexed when none failed. */
export async function countProcessed(tx: ISql, jobId: string, indexed: boolean): Promise<void> {
  await tx`update jobs set objects_processed = objects_processed + 1, objects_indexed = objects_indexed + ${indexed ? 1 : 0} where id = ${jobId}`;
}

/** What the scan checkpoint says: its pass, the last key listed, and how many were listed. */
export async function readScanCheckpoint(sql: ISql, jobId: string): Promise<{ pass: number; afterKey: string | null; listed: number } | undefined> {
  const [row] = await sql<
    { scan_pass: number | null; scan_cursor: string | null; objects_listed: string }[]
  >`select scan_pass, scan_cursor, objects_listed from jobs where id = ${jobId}`;
  return row?.scan_pass != null ? { pass: row.scan_pass, afterKey: row.scan_cursor, listed: Number(row.objects_listed) } : undefined;
}

/** How many objects the job owes so far. */
export async function readOwedCount(sql: ISql, jobId: string): Promise<number> {
  const [job] = await sql<{ n: string }[]>`select objects_discovered as n from jobs where id = ${jobId}`;
  return Number(job?.n ?? 0);
}

/**
 * One ingestion batch dispatched, counted once by its (job, last key) row,
 * and only while its job runs: a retried batch, or a stray attempt after the
 * job ended, counts nothing. Returns whether this call counted it.
 */
export async function countBatch(sql: ISql, ref: JobRef, lastKey: string): Promise<boolean> {
  // One statement: the row and the count land together or not at all.
  const counted = await sql`with added as (
      insert into job_batches (job_id, last_key)
      select ${ref.jobId}, ${lastKey} where exists (select 1 from jobs where id = ${ref.jobId} and finished_at is null)
      on conflict do nothing returning 1)
    update sources set batches_created = batches_created + 1 where id = ${ref.sourceId} and exists (select 1 from added)`;
  return counted.count > 0;
}
