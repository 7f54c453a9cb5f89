import type { ISql, Sql } from 'postgres';
import type { Db } from '../db/client.js';
import type { ObjectMetadata } from '../lake/types.js';
import { PUSHED_SOURCE_KINDS } from '../domain/kinds.js';
import { dropDerivedData } from './derived.js';
import { countCopied, countDeadLettered, countSkipped, setIngestionOwed, type JobRef } from './job-counters.js';
import { lit, OBJECT_STATUS as S, RUN_STATUS } from './status.js';

/** An object an ingestion batch owes. */
export interface OwedObject {
  id: string;
  key: string;
  etag: string;
  size: number;
  attempts: number;
}

/** An object copied into the lake (or, pushed, found there). */
export interface Copied {
  id: string;
  lakeKey: string;
  contentHash: string | null;
  /** Rules route it to pipelines: it is counted processed once they have run, not now. */
  process: boolean;
  /** What the source gave with it, for a lake that does not keep metadata itself; absent: the row keeps what it has. */
  metadata?: ObjectMetadata;
}

/**
 * Owe (push): an object that arrived in the lake by push is owed cataloguing
 * by its source's next ingestion. `metadata` is what the write was given
 * (null: nothing to hold, the lake keeps it); absent, the row keeps what it has
 * (an object put back from trash).
 */
export async function owePushed(
  db: Db,
  o: { id: string; sourceId: string; key: string; etag: string; size: number; contentHash: string | null; metadata?: ObjectMetadata | null },
): Promise<void> {
  const sql = db.$client;
  const keep = o.metadata === undefined;
  const metadata = o.metadata ? JSON.stringify(o.metadata) : null;
  await sql`
    insert into source_objects (id, source_id, key, etag, size, last_modified, status, lake_key, content_hash, metadata)
    values (${o.id}, ${o.sourceId}, ${o.key}, ${o.etag}, ${o.size}, now(), ${lit(sql, S.pending)}, ${o.key}, ${o.contentHash}, ${metadata}::jsonb)
    on conflict (source_id, key) do update set etag = excluded.etag, size = excluded.size, last_modified = excluded.last_modified,
      status = ${lit(sql, S.pending)}, attempts = 0, last_error = null, lake_key = excluded.lake_key, content_hash = excluded.content_hash,
      metadata = case when ${keep}::boolean then source_objects.metadata else excluded.metadata end, updated_at = now()`;
}

/**
 * The metadata the catalog holds for a lake object: that of the row pointing
 * at it that changed last (the row GetObjectInfo names as its origin), passing
 * over rows that know none (one skipped as a duplicate of it points at it
 * too); null when no row holds any.
 */
export async function lakeObjectMetadata(sql: ISql, bucketId: string, lakeKey: string): Promise<ObjectMetadata | null> {
  return (await lakeObjectRecords(sql, bucketId, [lakeKey])).get(lakeKey)?.metadata ?? null;
}

/**
 * What the catalog holds for lake objects, by lake key: their stored metadata
 * and content hash (`md5:<hex>`), from rows that describe the lake's copy (a
 * pushed object's, or an ingested one's).
 */
export async function lakeObjectRecords(
  sql: ISql,
  bucketId: string,
  lakeKeys: string[],
): Promise<Map<string, { metadata: ObjectMetadata | null; contentHash: string | null }>> {
  if (lakeKeys.length === 0) return new Map();
  const rows = await sql<{ lake_key: string; metadata: ObjectMetadata | null; content_hash: string | null }[]>`
      select distinct on (so.lake_key) so.lake_key, so.metadata, so.content_hash
      from source_objects so join sources s on s.id = so.source_id
      where s.bucket_id = ${bucketId} and so.lake_key = any(${lakeKeys}::text[])
        -- A pulled object's row changes when the source does, before the copy: until it is ingested again its hash is not the lake's.
        and (so.status = ${lit(sql, S.ingested)} or s.kind = any(${PUSHED_SOURCE_KINDS as string[]}))
      order by so.lake_key, so.metadata is null, so.updated_at desc`;
  return new Map(rows.map((r) => [r.lake_key, { metadata: r.metadata, contentHash: r.content_hash }]));
}

/** Owe (on request): assigns owed (and, when asked, dead-lettered, or the one named) objects to an ingestion job. Returns how many it owes. */
export async function assignOwed(sql: Sql, input: { jobId: string; sourceId: string; retryFailed: boolean; sourceObjectId?: string | null }): Promise<number> {
  return sql.begin(async (tx) => {
    await tx`
          update source_objects set pending_job_id = ${input.jobId}, status = ${lit(tx, S.pending)},
            attempts = case when status = ${lit(tx, S.pending)} then attempts else 0 end, updated_at = now()
          where source_id = ${input.sourceId}
            and pending_job_id is distinct from ${input.jobId}
            and (${input.sourceObjectId ?? null}::text is null or id = ${input.sourceObjectId ?? null})
            and (status = ${lit(tx, S.pending)} or (${input.retryFailed}::boolean and status = ${lit(tx, S.dead)})
                 or (${input.sourceObjectId ?? null}::text is not null and status not in (${lit(tx, S.deleted, S.filtered)})))`;
    const [row] = await tx<{ n: string }[]>`select count(*) as n from source_objects where pending_job_id = ${input.jobId}`;
    const n = Number(row?.n ?? 0);
    await setIngestionOwed(tx, input.jobId, n);
    return n;
  });
}

/** How many objects an ingestion request would dispatch (what assignOwed and adoption would take), without changing anything. */
export async function previewOwed(sql: ISql, input: { sourceId: string; retryFailed: boolean; sourceObjectId?: string | null }): Promise<number> {
  const [row] = await sql<{ n: string }[]>`
        select count(*) as n from source_objects
        where source_id = ${input.sourceId}
          and (${input.sourceObjectId ?? null}::text is null or id = ${input.sourceObjectId ?? null})
          and (status = ${lit(sql, S.pending)} or (${input.retryFailed}::boolean and status = ${lit(sql, S.dead)})
               or (${input.sourceObjectId ?? null}::text is not null and status not in (${lit(sql, S.deleted, S.filtered)}))
               or (status = ${lit(sql, S.ingested)} and (process_job_id is not null
                   or (${input.retryFailed}::boolean and exists (select 1 from object_pipeline_runs r where r.object_id = source_objects.id and r.status = ${lit(sql, RUN_STATUS.failed)})))))`;
  return Number(row?.n ?? 0);
}

/** The objects a job still owes a copy in one batch's key range. */
export async function owedInRange(sql: ISql, jobId: string, afterKey: string | null, lastKey: string): Promise<OwedObject[]> {
  return sql<OwedObject[]>`
        select id, key, etag, size::float8 as size, attempts from source_objects
        where pending_job_id = ${jobId} and status = ${lit(sql, S.pending)}
          and (${afterKey}::text is null or key > ${afterKey}) and key <= ${lastKey}
        order by key`;
}

/** skipDuplicates: lake keys in this bucket where stored objects with this content sit (other than the object itself). */
export async function storedWithContent(sql: ISql, bucketId: string, contentHash: string, exceptId: string): Promise<string[]> {
  const rows = await sql<{ lake_key: string }[]>`
      select so.lake_key from source_objects so join sources s on s.id = so.source_id
      where s.bucket_id = ${bucketId} and so.content_hash = ${contentHash} and so.status = ${lit(sql, S.ingested)}
        and so.lake_key is not null and so.id <> ${exceptId}
      limit 5`;
  return rows.map((r) => r.lake_key);
}

/**
 * Record copied, in bulk: one transaction for many objects. Each row is
 * guarded by `pending_job_id = job`, so a replay after a crash records (and
 * counts) nothing twice. Returns how many it recorded and their bytes.
 */
export async function recordCopied(sql: Sql, ref: JobRef, rows: readonly Copied[]): Promise<{ n: number; bytes: number }> {
  return sql.begin(async (tx) => {
    const [done] = await tx<{ n: string; done: string; bytes: string }[]>`
        with done as (
          update source_objects so set status = ${lit(tx, S.ingested)}, pending_job_id = null, last_job_id = ${ref.jobId}, lake_key = d.lake_key,
            ingested_etag = so.etag, content_hash = coalesce(d.content_hash, so.content_hash), ingested_at = now(),
            attempts = so.attempts + 1, last_error = null, updated_at = now(),
            process_job_id = case when d.process then ${ref.jobId} else null end, metadata = coalesce(d.metadata, so.metadata)
          from jsonb_to_recordset(${JSON.stringify(rows.map((r) => ({ id: r.id, lake_key: r.lakeKey, content_hash: r.contentHash, process: r.process, metadata: r.metadata })))}::jsonb)
            as d(id text, lake_key text, content_hash text, process boolean, metadata jsonb)
          where so.id = d.id and so.pending_job_id = ${ref.jobId}
          returning so.size, d.process
        )
        select count(*) as n, count(*) filter (where not process) as done, coalesce(sum(size), 0) as bytes from done`;
    const n = Number(done?.n ?? 0);
    const finished = Number(done?.done ?? 0);
    const bytes = Number(done?.bytes ?? 0);
    if (n === 0) return { n, bytes };
    await countCopied(tx, ref, { copied: n, finished, bytes });
    return { n, bytes };
  });
}

/** Record copied, by reference: the object's content already sits in the lake at `lakeKey`. False when it was recorded already. */
export async function recordDuplicate(sql: Sql, jobId: string, objectId: string, dup: { hash: string; lakeKey: string }, process: boolean): Promise<boolean> {
  return sql.begin(async (tx) => {
    const rows = await tx`
        update source_objects set status = ${lit(tx, S.ingested)}, pending_job_id = null, last_job_id = ${jobId}, lake_key = ${dup.lakeKey},
          ingested_etag = etag, content_hash = ${dup.hash}, ingested_at = now(), attempts = attempts + 1, last_error = null, updated_at = now(),
          process_job_id = ${process ? jobId : null}
        where id = ${objectId} and pending_job_id = ${jobId}
        returning id`;
    if (rows.count === 0) return false;
    await countSkipped(tx, jobId, process ? 0 : 1);
    return true;
  });
}

/**
 * Counts a failed copy attempt; the attempt that reaches `deadAt` dead-letters
 * the object (`dead`, no longer owed) and counts it failed. Returns the
 * attempts it now has, or undefined when the job no longer owes it.
 */
export async function recordFailedAttempt(sql: Sql, ref: JobRef, objectId: string, error: string, deadAt: number): Promise<number | undefined> {
  return sql.begin(async (tx) => {
    const rows = await tx<{ attempts: number }[]>`
        update source_objects set attempts = attempts + 1, last_error = ${error}, updated_at = now(),
          status = case when attempts + 1 >= ${deadAt} then ${lit(tx, S.dead)} else status end,
          last_job_id = ${ref.jobId},
          pending_job_id = case when attempts + 1 >= ${deadAt} then null else pending_job_id end
        where id = ${objectId} and pending_job_id = ${ref.jobId}
        returning attempts`;
    const attempts = rows[0]?.attempts;
    if (attempts === undefined || attempts < deadAt) return attempts;
    await countDeadLettered(tx, ref);
    return attempts;
  });
}

/**
 * Record removal from the lake: a lake object is gone (deleted, trashed), so
 * whichever source brought it, its catalog row is `deleted` and no longer
 * points at the lake, and what pipelines made of it goes with it.
 */
export async function recordRemovedFromLake(db: Db, bucketId: string, key: string): Promise<void> {
  const sql = db.$client;
  await sql.begin(async (tx) => {
    const removed = await tx<{ id: string }[]>`
      update source_objects so set status = ${lit(tx, S.deleted)}, lake_key = null, pending_job_id = null, process_job_id = null, updated_at = now()
      from sources s where s.id = so.source_id and s.bucket_id = ${bucketId} and so.lake_key = ${key}
      returning so.id`;
    await dropDerivedData(tx, { objectIds: removed.map((r) => r.id) });
  });
  // Documents indexed at this key, whichever object they were derived from.
  await dropDerivedData(sql, { bucketId, lakeKey: key });
}
