import type { ISql, Sql } from 'postgres';
import { dropDerivedData } from './derived.js';
import { countDeferred, countDeleted, countOwed, countRemoved, readOwedCount, type JobRef } from './job-counters.js';
import { lit, OBJECT_STATUS as S } from './status.js';

/**
 * What a discovery scan writes, a listing page at a time: each page is one
 * bulk statement per step, so the diff of a quiet source only reads.
 */

/** One object as the source lists it. */
export interface Listed {
  key: string;
  etag: string;
  size: number;
  lastModified?: Date | null;
}

export interface ScanRef extends JobRef {
  fullSync: boolean;
}

const asJson = (page: readonly Listed[]): string =>
  JSON.stringify(page.map((o) => ({ key: o.key, etag: o.etag, size: o.size, last_modified: o.lastModified?.toISOString() ?? null })));

/** Every scan gets a pass of its own, so marks left by an interrupted, abandoned scan never count. */
export async function nextScanPass(sql: ISql, sourceId: string): Promise<number> {
  const [row] = await sql<{ scan_pass: number }[]>`update sources set scan_pass = scan_pass + 1 where id = ${sourceId} returning scan_pass`;
  return row!.scan_pass;
}

/**
 * Owe: diffs the page's objects that pass the filters against the etag
 * checkpoint, in one statement. An object is owed to this job when it is
 * new, came back, its etag or size changed (and onUpdate is on), it was
 * still owed from an earlier run, or this is a full sync. Only rows not
 * already owed to this job are counted, so a re-processed page adds nothing.
 *
 * With `cap` (maxObjectsPerRun), objects past what the job may still owe
 * (the page's highest keys) are written pending but owed to no job, counted
 * deferred: deferred in the same write, not owed and then released by a
 * second one (deferExcess), which on a first scan of a source larger than the
 * cap doubled its writes. The job's owed count is read in the statement's
 * snapshot, so a concurrent shard's page can still leave an excess, which
 * deferExcess, called last, settles (an object that stops being owed
 * meanwhile only leaves the job short of the cap).
 */
export async function oweListed(
  tx: ISql,
  ref: ScanRef,
  pass: number,
  page: readonly Listed[],
  onUpdate: boolean,
  cap?: number,
  /** A shard's page: its range, where deferExcess looks for an excess. */
  shardRange?: { after: string | null; upTo: string | null },
): Promise<{ fresh: number; changed: number }> {
  if (page.length === 0) return { fresh: 0, changed: 0 };
  /** Whether an object must be (re)owed, from its catalog row and the listing: `rowName` and `listedName` name the two. */
  const needs = (rowName: string, listedName: string) => {
    const [r, l] = [tx.unsafe(rowName), tx.unsafe(listedName)];
    return tx`(${ref.fullSync}::boolean or ${r}.status in (${lit(tx, S.pending, S.deleted, S.filtered)})
      or ((${r}.etag <> ${l}.etag or ${r}.size <> ${l}.size) and (${onUpdate}::boolean or ${r}.status <> ${lit(tx, S.ingested)})))`;
  };
  const limit = cap ?? null;
  const [row] = await tx<{ fresh: string; changed: string; adopted: string; deferred: string }[]>`
        with input as (
          select * from jsonb_to_recordset(${asJson(page)}::jsonb) as t(key text, etag text, size bigint, last_modified timestamptz)
        ),
        -- Each listed key looked up by the unique index: lateral with a limit (so not flattened into a join), as the
        -- planner otherwise scans the whole source while its statistics still think it small (a first scan: quadratic).
        prev as (
          select p.* from input i cross join lateral (
            select so.key, so.status, so.etag, so.size, so.pending_job_id, so.process_job_id from source_objects so
            where so.source_id = ${ref.sourceId} and so.key = i.key collate "C" limit 1) p
        ),
        -- Which listed objects this page newly owes, in key order: past the job's room, they are deferred. Objects
        -- adopted for processing are counted discovered already: they take no room and are never deferred.
        owing as (
          select i.key, p.process_job_id is not distinct from ${ref.jobId} as adopted,
            count(*) filter (where p.process_job_id is distinct from ${ref.jobId}) over (order by i.key collate "C") as nth
          from input i left join prev p on p.key = i.key collate "C"
          where (p.key is null or ${needs('p', 'i')}) and p.pending_job_id is distinct from ${ref.jobId}
        ),
        deferring as (
          select o.key from owing o
          where ${limit}::bigint is not null and not o.adopted
            and o.nth > greatest(0, ${limit}::bigint - (select objects_discovered from jobs where id = ${ref.jobId}))
        ),
        up as (
          insert into source_objects as so (id, source_id, key, etag, size, last_modified, status, seen_pass, pending_job_id, last_job_id)
          select 'sobj_' || replace(gen_random_uuid()::text, '-', ''), ${ref.sourceId}, i.key, i.etag, i.size, i.last_modified, ${lit(tx, S.pending)}, ${pass},
            case when d.key is null then ${ref.jobId} end, ${ref.jobId}
          from input i left join deferring d on d.key = i.key collate "C"
          on conflict (source_id, key) do update set
            seen_pass = excluded.seen_pass,
            etag = excluded.etag,
            size = excluded.size,
            last_modified = excluded.last_modified,
            updated_at = now(),
            attempts = case when so.pending_job_id is distinct from ${ref.jobId} and ${needs('so', 'excluded')} then 0 else so.attempts end,
            status = case when ${needs('so', 'excluded')} then ${lit(tx, S.pending)} else so.status end,
            -- excluded.pending_job_id is null for a deferred object.
            pending_job_id = case when ${needs('so', 'excluded')} then excluded.pending_job_id else so.pending_job_id end
          -- An unchanged object costs no write: scans of a quiet source only read.
          where ${needs('so', 'excluded')} or so.etag <> excluded.etag or so.size <> excluded.size or so.last_modified is distinct from excluded.last_modified
          returning so.key, so.status, so.pending_job_id
        ),
        -- Owed now, or owed but deferred: counted new or changed as if owed, then deferred.
        counted as (
          select up.key, prev.key as prev_key, prev.status as prev_status, prev.process_job_id as prev_process,
            up.pending_job_id is null and d.key is not null as deferred
          from up left join prev on prev.key = up.key collate "C" left join deferring d on d.key = up.key collate "C"
          where (up.pending_job_id = ${ref.jobId} or (up.pending_job_id is null and d.key is not null and up.status = ${lit(tx, S.pending)}))
            and prev.pending_job_id is distinct from ${ref.jobId}
        )
        select
          count(*) filter (where prev_key is null or prev_status in (${lit(tx, S.deleted, S.filtered)})) as fresh,
          count(*) filter (where prev_key is not null and prev_status not in (${lit(tx, S.deleted, S.filtered)})) as changed,
          -- Adopted for processing before the scan: already counted as discovered by this job.
          count(*) filter (where prev_process = ${ref.jobId}) as adopted,
          count(*) filter (where deferred) as deferred
        from counted`;
  const fresh = Number(row?.fresh ?? 0);
  const changed = Number(row?.changed ?? 0);
  const adopted = Number(row?.adopted ?? 0);
  const deferred = Number(row?.deferred ?? 0);
  await countOwed(tx, ref, { fresh, changed, adopted });
  if (deferred > 0) await countDeferred(tx, ref, deferred);
  if (cap !== undefined) await deferExcess(tx, ref, cap, shardRange);
  return { fresh, changed };
}

/** The lake keys of stored objects on this page (listed outside the filters): what filter drift removes from the lake. */
export async function driftedLakeKeys(sql: ISql, sourceId: string, page: readonly Listed[]): Promise<string[]> {
  const drifted = await sql<{ lake_key: string }[]>`
        select so.lake_key from jsonb_to_recordset(${asJson(page)}::jsonb) as t(key text) cross join lateral (
          select so.lake_key, so.status from source_objects so where so.source_id = ${sourceId} and so.key = t.key collate "C" limit 1) so
        where so.status = ${lit(sql, S.ingested)} and so.lake_key is not null`;
  return drifted.map((d) => d.lake_key);
}

/**
 * Objects outside the filters are remembered as `filtered` (so they are not
 * swept as deleted). With onFilterDrift, a stored one leaves the lake (the
 * caller removed it first) and is counted removed; without, it stays stored.
 */
export async function recordFiltered(sql: Sql, ref: JobRef, pass: number, page: readonly Listed[], onFilterDrift: boolean): Promise<void> {
  if (page.length === 0) return;
  const json = asJson(page);
  await sql.begin(async (tx) => {
    const [row] = await tx<{ removed: string }[]>`
        with prev as (
          select so.key, so.status from jsonb_to_recordset(${json}::jsonb) as t(key text) cross join lateral (
            select so.key, so.status from source_objects so where so.source_id = ${ref.sourceId} and so.key = t.key collate "C" limit 1) so
        ),
        up as (
          insert into source_objects as so (id, source_id, key, etag, size, last_modified, status, seen_pass)
          select 'sobj_' || replace(gen_random_uuid()::text, '-', ''), ${ref.sourceId}, t.key, t.etag, t.size, t.last_modified, ${lit(tx, S.filtered)}, ${pass}
          from jsonb_to_recordset(${json}::jsonb) as t(key text, etag text, size bigint, last_modified timestamptz)
          on conflict (source_id, key) do update set
            seen_pass = excluded.seen_pass, etag = excluded.etag, size = excluded.size, last_modified = excluded.last_modified, updated_at = now(),
            status = case when so.status = ${lit(tx, S.ingested)} and not ${onFilterDrift}::boolean then ${lit(tx, S.ingested)} else ${lit(tx, S.filtered)} end,
            lake_key = case when so.status = ${lit(tx, S.ingested)} and not ${onFilterDrift}::boolean then so.lake_key else null end,
            pending_job_id = case when so.status = ${lit(tx, S.ingested)} and not ${onFilterDrift}::boolean then so.pending_job_id else null end,
            last_job_id = case when so.status = ${lit(tx, S.ingested)} and ${onFilterDrift}::boolean then ${ref.jobId} else so.last_job_id end
          where so.status is distinct from (case when so.status = ${lit(tx, S.ingested)} and not ${onFilterDrift}::boolean then ${lit(tx, S.ingested)} else ${lit(tx, S.filtered)} end)
            or so.etag <> excluded.etag or so.size <> excluded.size
          returning so.key, so.status
        )
        select count(*) filter (where prev.status = ${lit(tx, S.ingested)} and up.status = ${lit(tx, S.filtered)}) as removed
        from up join prev on prev.key = up.key collate "C"`;
    await countRemoved(tx, ref.jobId, Number(row?.removed ?? 0));
  });
}

/**
 * maxObjectsPerRun, never exceeded: oweListed defers past the cap as it
 * writes, from the owed count in its snapshot, so shards committing pages at
 * once can overshoot it; this releases the excess once the job row is locked
 * (countOwed locks it; a single scan holds it from its cursor's advance, and
 * finds no excess). The excess (the highest keys owed on this page, not yet
 * dispatched) stays pending for the next run. A shard's page passes its
 * range: the owed count before the page, read under the lock, was within the
 * cap, so the excess is this page's. Part of the page's transaction, so a
 * re-listed page never defers twice.
 */
export async function deferExcess(tx: ISql, ref: JobRef, max: number, page?: { after: string | null; upTo: string | null }): Promise<void> {
  const excess = (await readOwedCount(tx, ref.jobId)) - max;
  if (excess <= 0) return;
  // A shard's page: the highest keys owed may be another shard's, already dispatched; this page's own range is not.
  const after = page?.after ?? null;
  const upTo = page?.upTo ?? null;
  const released = await tx`
      update source_objects set pending_job_id = null
      where id in (select id from source_objects where pending_job_id = ${ref.jobId} and status = ${lit(tx, S.pending)}
        and (${after}::text is null or key > ${after}) and (${upTo}::text is null or key <= ${upTo})
        order by key desc limit ${excess})
      returning id`;
  if (released.count === 0) return;
  await countDeferred(tx, ref, released.count);
}

/**
 * Mark missing: every page also covers its key range in the checkpoint, so
 * what lies in that range but was not listed is marked missing by this pass —
 * a write only for missing objects. The sweep acts on the marks once the
 * listing is complete.
 */
export async function markMissing(
  tx: ISql,
  sourceId: string,
  pass: number,
  from: string | null,
  to: string | null,
  listedKeys: readonly string[],
): Promise<void> {
  // A page re-listed after a crash may list an object that was missing the first time: its mark is cleared.
  await tx`
      with listed as (select value collate "C" as key from jsonb_array_elements_text(${JSON.stringify(listedKeys)}::jsonb))
      update source_objects so set missing_pass = case when so.key in (select key from listed) then null else ${pass}::int end
      where so.source_id = ${sourceId} and so.status <> ${lit(tx, S.deleted)}
        and (${from}::text is null or so.key > ${from}) and (${to}::text is null or so.key <= ${to})
        and (case when so.key in (select key from listed) then so.missing_pass = ${pass} else so.missing_pass is distinct from ${pass} end)`;
}

/**
 * Whether any object is owed to the job, to copy or to process: once its scan
 * has ended owing nothing, a last plan would find nothing (only a scan owes a
 * discovery's objects, and a batch's objects stay owed until recorded).
 */
export async function owesObjects(sql: ISql, jobId: string): Promise<boolean> {
  const [row] = await sql<{ owes: boolean }[]>`
    select exists (select 1 from source_objects where pending_job_id = ${jobId})
        or exists (select 1 from source_objects where process_job_id = ${jobId}) as owes`;
  return row!.owes;
}

/** How many objects this pass found missing, of how many the source holds: what reconcile.maxDeletes is checked against. */
export async function countMissing(sql: ISql, sourceId: string, pass: number): Promise<{ gone: number; total: number }> {
  const [row] = await sql<{ gone: string; total: string }[]>`
      select count(*) filter (where missing_pass = ${pass}) as gone, count(*) as total
      from source_objects where source_id = ${sourceId} and status not in (${lit(sql, S.deleted, S.filtered)})`;
  return { gone: Number(row?.gone ?? 0), total: Number(row?.total ?? 0) };
}

/** The next objects this pass marked missing and not yet swept; `stored` ones sit in the lake at `lakeKey`. */
export async function nextMissing(sql: ISql, sourceId: string, pass: number): Promise<{ id: string; lakeKey: string | null; stored: boolean }[]> {
  const gone = await sql<{ id: string; lake_key: string | null; status: string }[]>`
        select id, lake_key, status from source_objects
        where source_id = ${sourceId} and missing_pass = ${pass} and status <> ${lit(sql, S.deleted)}
        order by key limit 500`;
  return gone.map((g) => ({ id: g.id, lakeKey: g.lake_key, stored: g.status === S.ingested && g.lake_key !== null }));
}

/**
 * Sweep deleted: objects gone at the source become `deleted`, with what
 * pipelines derived from them; with onDelete (the caller removed them from
 * the lake first) they no longer point at the lake. Returns how many it marked.
 */
export async function sweepDeleted(sql: Sql, ref: JobRef, ids: readonly string[], onDelete: boolean): Promise<number> {
  return sql.begin(async (tx) => {
    const [row] = await tx<{ marked: string; removed: string }[]>`
          with target as (
            select id, (status = ${lit(tx, S.ingested)} and lake_key is not null) as in_lake from source_objects
            where id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)) and status <> ${lit(tx, S.deleted)}
            for update
          ),
          marked as (
            update source_objects so set status = ${lit(tx, S.deleted)}, pending_job_id = null, process_job_id = null, last_job_id = ${ref.jobId}, updated_at = now(),
              lake_key = case when ${onDelete}::boolean then null else so.lake_key end
            from target where so.id = target.id
            returning target.in_lake
          )
          select count(*) as marked, count(*) filter (where in_lake and ${onDelete}::boolean) as removed from marked`;
    const marked = Number(row?.marked ?? 0);
    const removed = Number(row?.removed ?? 0);
    await countDeleted(tx, ref.jobId, { marked, removed });
    await dropDerivedData(tx, { objectIds: ids });
    return marked;
  });
}

/** The sweep of this pass is complete: a later scan's pass starts above it. */
export async function closeScanPass(sql: ISql, sourceId: string, pass: number): Promise<void> {
  await sql`update sources set scan_pass = greatest(scan_pass, ${pass}) where id = ${sourceId}`;
}

/**
 * A dry run's page (or a scheduled poll's look): counts what would change with
 * reads only. The page's keys all lie in its range (fromKey, toKey], so one
 * read of that range joined to the listing by key tells new, changed, gone and
 * drifted objects apart, instead of an index probe per listed key and a second
 * read of the range for what is gone.
 */
export async function previewPage(
  sql: ISql,
  ref: ScanRef,
  page: readonly Listed[],
  unmatched: readonly Listed[],
  fromKey: string | null,
  toKey: string | null,
  onUpdate: boolean,
  onFilterDrift: boolean,
): Promise<{ fresh: number; changed: number; gone: number; drifted: number }> {
  const listed = JSON.stringify([
    ...page.map((o) => ({ key: o.key, etag: o.etag, size: o.size, matched: true })),
    ...unmatched.map((o) => ({ key: o.key, matched: false })),
  ]);
  const [row] = await sql<{ fresh: string; changed: string; gone: string; drifted: string }[]>`
      with listed as (
        select * from jsonb_to_recordset(${listed}::jsonb) as t(key text, etag text, size bigint, matched boolean)
      ),
      range as (
        select so.key, so.status, so.etag, so.size from source_objects so
        where so.source_id = ${ref.sourceId} and (${fromKey}::text is null or so.key > ${fromKey}) and (${toKey}::text is null or so.key <= ${toKey})
      ),
      joined as (
        select l.key is not null as is_listed, l.matched, l.etag, l.size, r.status, r.etag as so_etag, r.size as so_size
        from listed l full join range r on r.key = l.key collate "C"
      )
      select
        count(*) filter (where matched and (status is null or status in (${lit(sql, S.deleted, S.filtered)}))) as fresh,
        count(*) filter (where matched and status not in (${lit(sql, S.deleted, S.filtered)}) and (${ref.fullSync}::boolean or status = ${lit(sql, S.pending)}
          or ((so_etag <> etag or so_size <> size) and (${onUpdate}::boolean or status <> ${lit(sql, S.ingested)})))) as changed,
        count(*) filter (where not is_listed and status <> ${lit(sql, S.deleted)}) as gone,
        count(*) filter (where ${onFilterDrift}::boolean and not matched and status = ${lit(sql, S.ingested)}) as drifted
      from joined`;
  return { fresh: Number(row?.fresh ?? 0), changed: Number(row?.changed ?? 0), gone: Number(row?.gone ?? 0), drifted: Number(row?.drifted ?? 0) };
}
