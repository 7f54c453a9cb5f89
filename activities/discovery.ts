import { ApplicationFailure, Context } from '@temporalio/activity';
import type { TransactionSql } from 'postgres';
import { FAILURE } from '../domain/failures.js';
import { compileFilters } from '../domain/filters.js';
import { reconcileWithDefaults, type ReconcileSettings } from '../domain/source-config.js';
import type { ActivityDeps } from './deps.js';
import { removeFromLake } from './lake-removal.js';
import { loadSource, type SourceContext } from './source-context.js';
import { SOURCE_READERS, errorCode } from './storage/source-readers.js';
import type { SourceKind } from '../domain/kinds.js';
import type { ListedObject } from './storage/types.js';
import { recorded } from '../metrics/registry.js';
import { destinationFailure } from './net/destination-failure.js';

type Tx = TransactionSql;

export interface ScanInput {
  jobId: string;
  sourceId: string;
  fullSync: boolean;
  dryRun?: boolean;
}

export interface ScanResult {
  listed: number;
  discovered: number;
  deleted: number;
  resumedFrom: string | null;
}

/** What a scan heartbeats: enough to resume exactly where it stopped. */
interface ScanCheckpoint {
  pass: number;
  afterKey: string | null;
  listed: number;
}

const asJson = (page: ListedObject[]): string =>
  JSON.stringify(page.map((o) => ({ key: o.key, etag: o.etag, size: o.size, last_modified: o.lastModified?.toISOString() ?? null })));

export function discoveryActivities(deps: ActivityDeps) {
  const sql = deps.db.$client;

  /**
   * Diffs the page's objects that pass the filters against the etag
   * checkpoint, in one statement. An object is owed to this job when it is
   * new, came back, its etag or size changed (and onUpdate is on), it was
   * still owed from an earlier run, or this is a full sync. Only rows not
   * already owed to this job are counted, so a re-processed page adds nothing.
   */
  async function diffMatched(tx: Tx, input: ScanInput, pass: number, page: ListedObject[], onUpdate: boolean): Promise<{ fresh: number; changed: number }> {
    if (page.length === 0) return { fresh: 0, changed: 0 };
    const needs = sql`(${input.fullSync}::boolean or so.status in ('pending', 'deleted', 'filtered')
      or ((so.etag <> excluded.etag or so.size <> excluded.size) and (${onUpdate}::boolean or so.status <> 'ingested')))`;
    {
      const [row] = await tx<{ fresh: string; changed: string; adopted: string }[]>`
        with input as (
          select * from jsonb_to_recordset(${asJson(page)}::jsonb) as t(key text, etag text, size bigint, last_modified timestamptz)
        ),
        prev as (
          select so.key, so.status, so.pending_job_id, so.process_job_id from source_objects so
          join input i on so.key = i.key collate "C"
          where so.source_id = ${input.sourceId}
        ),
        up as (
          insert into source_objects as so (id, source_id, key, etag, size, last_modified, status, seen_pass, pending_job_id, last_job_id)
          select 'sobj_' || replace(gen_random_uuid()::text, '-', ''), ${input.sourceId}, i.key, i.etag, i.size, i.last_modified, 'pending', ${pass}, ${input.jobId}, ${input.jobId}
          from input i
          on conflict (source_id, key) do update set
            seen_pass = excluded.seen_pass,
            etag = excluded.etag,
            size = excluded.size,
            last_modified = excluded.last_modified,
            updated_at = now(),
            attempts = case when so.pending_job_id is distinct from ${input.jobId} and ${needs} then 0 else so.attempts end,
            status = case when ${needs} then 'pending' else so.status end,
            pending_job_id = case when ${needs} then ${input.jobId} else so.pending_job_id end
          -- An unchanged object costs no write: scans of a quiet source only read.
          where ${needs} or so.etag <> excluded.etag or so.size <> excluded.size or so.last_modified is distinct from excluded.last_modified
          returning so.key, so.pending_job_id
        )
        select
          count(*) filter (where up.pending_job_id = ${input.jobId} and (prev.key is null or (prev.status in ('deleted', 'filtered') and prev.pending_job_id is distinct from ${input.jobId}))) as fresh,
          count(*) filter (where up.pending_job_id = ${input.jobId} and prev.key is not null and prev.status not in ('deleted', 'filtered') and prev.pending_job_id is distinct from ${input.jobId}) as changed,
          -- Adopted for processing before the scan: already counted as discovered by this job.
          count(*) filter (where up.pending_job_id = ${input.jobId} and prev.process_job_id = ${input.jobId} and prev.pending_job_id is distinct from ${input.jobId}) as adopted
        from up left join prev on prev.key = up.key collate "C"`;
      const fresh = Number(row?.fresh ?? 0);
      const changed = Number(row?.changed ?? 0);
      const adopted = Number(row?.adopted ?? 0);
      if (fresh + changed > 0) {
        await tx`update jobs set objects_discovered = objects_discovered + ${fresh + changed - adopted}, objects_new = objects_new + ${fresh}, objects_changed = objects_changed + ${changed} where id = ${input.jobId}`;
        await tx`update sources set total_objects_discovered = total_objects_discovered + ${fresh + changed} where id = ${input.sourceId}`;
      }
      return { fresh, changed };
    }
  }

  /**
   * Objects outside the filters are remembered as `filtered` (so they are not
   * swept as deleted). An ingested one that drifted out is removed from the
   * lake first when onFilterDrift is on — lake first, so a crash in between
   * only repeats an idempotent delete.
   */
  async function recordUnmatched(ctx: SourceContext, input: ScanInput, pass: number, page: ListedObject[], onFilterDrift: boolean): Promise<void> {
    if (page.length === 0) return;
    const json = asJson(page);
    if (onFilterDrift) {
      const drifted = await sql<{ lake_key: string }[]>`
        select so.lake_key from source_objects so
        join jsonb_to_recordset(${json}::jsonb) as t(key text) on so.key = t.key collate "C"
        where so.source_id = ${input.sourceId} and so.status = 'ingested' and so.lake_key is not null`;
      await removeFromLake(
        deps,
        ctx.bucketName,
        drifted.map((d) => d.lake_key),
      );
    }
    await sql.begin(async (tx) => {
      const [row] = await tx<{ removed: string }[]>`
        with prev as (
          select so.key, so.status from source_objects so
          join jsonb_to_recordset(${json}::jsonb) as t(key text) on so.key = t.key collate "C"
          where so.source_id = ${input.sourceId}
        ),
        up as (
          insert into source_objects as so (id, source_id, key, etag, size, last_modified, status, seen_pass)
          select 'sobj_' || replace(gen_random_uuid()::text, '-', ''), ${input.sourceId}, t.key, t.etag, t.size, t.last_modified, 'filtered', ${pass}
          from jsonb_to_recordset(${json}::jsonb) as t(key text, etag text, size bigint, last_modified timestamptz)
          on conflict (source_id, key) do update set
            seen_pass = excluded.seen_pass, etag = excluded.etag, size = excluded.size, last_modified = excluded.last_modified, updated_at = now(),
            status = case when so.status = 'ingested' and not ${onFilterDrift}::boolean then 'ingested' else 'filtered' end,
            lake_key = case when so.status = 'ingested' and not ${onFilterDrift}::boolean then so.lake_key else null end,
            pending_job_id = case when so.status = 'ingested' and not ${onFilterDrift}::boolean then so.pending_job_id else null end,
            last_job_id = case when so.status = 'ingested' and ${onFilterDrift}::boolean then ${input.jobId} else so.last_job_id end
          where so.status is distinct from (case when so.status = 'ingested' and not ${onFilterDrift}::boolean then 'ingested' else 'filtered' end)
            or so.etag <> excluded.etag or so.size <> excluded.size
          returning so.key, so.status
        )
        select count(*) filter (where prev.status = 'ingested' and up.status = 'filtered') as removed
        from up join prev on prev.key = up.key collate "C"`;
      const removed = Number(row?.removed ?? 0);
      if (removed > 0) await tx`update jobs set objects_removed = objects_removed + ${removed} where id = ${input.jobId}`;
    });
  }

  /**
   * maxObjectsPerRun, page by page: once the job owes more than the cap, the
   * excess (the highest keys, all on this page, not yet dispatched) stays
   * pending for the next run. Part of the page's transaction, so a re-listed
   * page never defers twice.
   */
  async function capPage(tx: Tx, input: ScanInput, max: number): Promise<void> {
    const [job] = await tx<{ n: string }[]>`select objects_discovered as n from jobs where id = ${input.jobId}`;
    const excess = Number(job?.n ?? 0) - max;
    if (excess <= 0) return;
    const released = await tx`
      update source_objects set pending_job_id = null
      where id in (select id from source_objects where pending_job_id = ${input.jobId} and status = 'pending' order by key desc limit ${excess})
      returning id`;
    if (released.count === 0) return;
    await tx`update jobs set objects_discovered = objects_discovered - ${released.count}, objects_deferred = objects_deferred + ${released.count} where id = ${input.jobId}`;
    await tx`update sources set total_objects_discovered = total_objects_discovered - ${released.count} where id = ${input.sourceId}`;
  }

  /** rclone's --max-delete: refuse a sweep that would remove more than allowed, before removing anything. */
  async function checkDeleteLimit(input: ScanInput, pass: number, reconcile: ReconcileSettings): Promise<void> {
    if (reconcile.maxDeletes === undefined) return;
    const [row] = await sql<{ gone: string; total: string }[]>`
      select count(*) filter (where missing_pass = ${pass}) as gone, count(*) as total
      from source_objects where source_id = ${input.sourceId} and status not in ('deleted', 'filtered')`;
    const gone = Number(row?.gone ?? 0);
    const total = Number(row?.total ?? 0);
    const limit = reconcile.maxDeletes;
    const allowed = typeof limit === 'number' ? limit : Math.floor((total * Number.parseFloat(limit)) / 100);
    if (gone > allowed) {
      throw ApplicationFailure.create({
        type: FAILURE.deleteLimitExceeded,
        nonRetryable: true,
        message: `refusing to delete ${gone} of ${total} objects: more than reconcile.maxDeletes=${JSON.stringify(limit)} (${allowed}); nothing was deleted`,
      });
    }
  }

  /**
   * Mark: every page also covers its key range in the checkpoint, so what lies
   * in that range but was not listed is marked missing by this pass — a write
   * only for missing objects. The sweep acts on the marks once the listing is
   * complete.
   */
  async function markMissing(tx: Tx, input: ScanInput, pass: number, from: string | null, to: string | null, listed: ListedObject[]): Promise<void> {
    // A page re-listed after a crash may list an object that was missing the first time: its mark is cleared.
    await tx`
      with listed as (select value collate "C" as key from jsonb_array_elements_text(${JSON.stringify(listed.map((o) => o.key))}::jsonb))
      update source_objects so set missing_pass = case when so.key in (select key from listed) then null else ${pass}::int end
      where so.source_id = ${input.sourceId} and so.status <> 'deleted'
        and (${from}::text is null or so.key > ${from}) and (${to}::text is null or so.key <= ${to})
        and (case when so.key in (select key from listed) then so.missing_pass = ${pass} else so.missing_pass is distinct from ${pass} end)`;
  }

  /** Sweep: after a complete listing, what this pass marked missing is gone; onDelete removes it from the lake. */
  async function sweep(ctx: SourceContext, input: ScanInput, cp: ScanCheckpoint, onDelete: boolean): Promise<number> {
    const pass = cp.pass;
    let deleted = 0;
    for (;;) {
      const gone = await sql<{ id: string; lake_key: string | null; status: string }[]>`
        select id, lake_key, status from source_objects
        where source_id = ${input.sourceId} and missing_pass = ${pass} and status <> 'deleted'
        order by key limit 500`;
      if (gone.length === 0) break;
      if (onDelete)
        await removeFromLake(
          deps,
          ctx.bucketName,
          gone.filter((g) => g.status === 'ingested' && g.lake_key !== null).map((g) => g.lake_key!),
        );
      deleted += await sql.begin(async (tx) => {
        const [row] = await tx<{ marked: string; removed: string }[]>`
          with target as (
            select id, (status = 'ingested' and lake_key is not null) as in_lake from source_objects
            where id in (select jsonb_array_elements_text(${JSON.stringify(gone.map((g) => g.id))}::jsonb)) and status <> 'deleted'
            for update
          ),
          marked as (
            update source_objects so set status = 'deleted', pending_job_id = null, process_job_id = null, last_job_id = ${input.jobId}, updated_at = now(),
              lake_key = case when ${onDelete}::boolean then null else so.lake_key end
            from target where so.id = target.id
            returning target.in_lake
          )
          select count(*) as marked, count(*) filter (where in_lake and ${onDelete}::boolean) as removed from marked`;
        const marked = Number(row?.marked ?? 0);
        const removed = Number(row?.removed ?? 0);
        if (marked > 0)
          await tx`update jobs set objects_deleted = objects_deleted + ${marked}, objects_removed = objects_removed + ${removed} where id = ${input.jobId}`;
        // What pipelines made of a deleted object goes with it.
        const ids = JSON.stringify(gone.map((g) => g.id));
        await tx`delete from fulltext_documents where object_id in (select jsonb_array_elements_text(${ids}::jsonb))`;
        await tx`delete from object_pipeline_runs where object_id in (select jsonb_array_elements_text(${ids}::jsonb))`;
        return marked;
      });
      Context.current().heartbeat(cp);
    }
    await sql`update sources set scan_pass = greatest(scan_pass, ${pass}) where id = ${input.sourceId}`;
    return deleted;
  }

  /**
   * Where a (re)started scan begins: the freshest of the heartbeat details
   * (throttled by the SDK, so possibly behind) and the checkpoint written to
   * the job with every page.
   */
  async function resumePoint(jobId: string, heartbeat: ScanCheckpoint | undefined, nextPass: () => Promise<number>): Promise<ScanCheckpoint> {
    const [row] = await sql<
      { scan_pass: number | null; scan_cursor: string | null; objects_listed: string }[]
    >`select scan_pass, scan_cursor, objects_listed from jobs where id = ${jobId}`;
    const stored: ScanCheckpoint | undefined =
      row?.scan_pass != null ? { pass: row.scan_pass, afterKey: row.scan_cursor, listed: Number(row.objects_listed) } : undefined;
    const candidates = [stored, heartbeat].filter((c): c is ScanCheckpoint => c !== undefined);
    if (candidates.length === 0) return { pass: await nextPass(), afterKey: null, listed: 0 };
    return candidates.reduce((a, b) => (b.listed > a.listed ? b : a));
  }

  /** A dry run's page: counts what would change with reads only. */
  async function previewPage(
    input: ScanInput,
    page: ListedObject[],
    unmatched: ListedObject[],
    fromKey: string | null,
    toKey: string | null,
    onUpdate: boolean,
    onFilterDrift: boolean,
  ) {
    const [row] = await sql<{ fresh: string; changed: string; gone: string; drifted: string }[]>`
      with input as (
        select * from jsonb_to_recordset(${asJson(page)}::jsonb) as t(key text, etag text, size bigint)
      ),
      outside as (
        select * from jsonb_to_recordset(${asJson(unmatched)}::jsonb) as t(key text)
      ),
      listed as (select key from input union all select key from outside)
      select
        (select count(*) from input i left join source_objects so on so.source_id = ${input.sourceId} and so.key = i.key collate "C"
          where so.id is null or so.status in ('deleted', 'filtered')) as fresh,
        (select count(*) from input i join source_objects so on so.source_id = ${input.sourceId} and so.key = i.key collate "C"
          where so.status not in ('deleted', 'filtered') and (${input.fullSync}::boolean or so.status = 'pending'
            or ((so.etag <> i.etag or so.size <> i.size) and (${onUpdate}::boolean or so.status <> 'ingested')))) as changed,
        (select count(*) from source_objects so where so.source_id = ${input.sourceId} and so.status <> 'deleted'
          and (${fromKey}::text is null or so.key > ${fromKey}) and (${toKey}::text is null or so.key <= ${toKey})
          and not exists (select 1 from listed l where l.key = so.key collate "C")) as gone,
        (select count(*) from outside o join source_objects so on so.source_id = ${input.sourceId} and so.key = o.key collate "C"
          where ${onFilterDrift}::boolean and so.status = 'ingested') as drifted`;
    return { fresh: Number(row?.fresh ?? 0), changed: Number(row?.changed ?? 0), gone: Number(row?.gone ?? 0), drifted: Number(row?.drifted ?? 0) };
  }

  return {
    /**
     * Lists the whole source page by page, heartbeating the cursor after each
     * page; a retry after a crash reads the heartbeat and resumes there.
     */
    async scanSource(input: ScanInput): Promise<ScanResult> {
      const actx = Context.current();
      const ctx = await loadSource(deps, input.sourceId);
      const { source, reader } = ctx;
      const matches = compileFilters(source.filters);
      const reconcile = reconcileWithDefaults(source.reconcile);
      const cp = await resumePoint(input.jobId, actx.info.heartbeatDetails as ScanCheckpoint | undefined, async () => {
        // Every scan gets a pass of its own, so marks left by an interrupted, abandoned scan never count.
        const [row] = await sql<{ scan_pass: number }[]>`update sources set scan_pass = scan_pass + 1 where id = ${input.sourceId} returning scan_pass`;
        return row!.scan_pass;
      });
      const resumedFrom = cp.afterKey;
      const preview = { fresh: 0, changed: 0, gone: 0, drifted: 0 };
      for (;;) {
        const from = cp.afterKey;
        const page = await reader.listPage(cp.afterKey, deps.listPageSize).catch((err: unknown) => {
          throw (
            destinationFailure(err, deps.egress, (detail) =>
              actx.log.warn('source listing failed', { sourceId: input.sourceId, jobId: input.jobId, ...detail }),
            ) ?? asPermanent(ctx.kind, err)
          );
        });
        const matched = page.objects.filter(matches);
        const unmatched = page.objects.filter((o) => !matches(o));
        if (input.dryRun) {
          const p = await previewPage(
            input,
            matched,
            unmatched,
            from,
            page.nextAfterKey === null ? null : (page.objects.at(-1)?.key ?? null),
            reconcile.onUpdate,
            reconcile.onFilterDrift,
          );
          preview.fresh += p.fresh;
          preview.changed += p.changed;
          preview.gone += p.gone;
          preview.drifted += p.drifted;
        } else {
          await recordUnmatched(ctx, input, cp.pass, unmatched, reconcile.onFilterDrift);
        }
        const listed = cp.listed + page.objects.length;
        const afterKey = page.nextAfterKey ?? page.objects.at(-1)?.key ?? cp.afterKey;
        // The page's diff, marks and the cursor commit together: ingestion may take every owed key up to
        // scan_cursor while the scan goes on, and a page re-listed after a crash finds nothing half-done.
        await sql.begin(async (tx) => {
          // The cursor moves only from where this attempt found it (locking the job row): an attempt
          // that lost its heartbeat and kept going can never re-diff pages a newer attempt committed.
          const moved = await tx`update jobs set objects_listed = ${listed}, pages_listed = pages_listed + 1, scan_pass = ${cp.pass}, scan_cursor = ${afterKey}
            where id = ${input.jobId} and scan_cursor is not distinct from ${from} and (scan_pass is null or scan_pass = ${cp.pass})`;
          if (moved.count === 0)
            throw ApplicationFailure.create({ type: FAILURE.scanSuperseded, message: 'a newer attempt of this scan has moved its cursor on' });
          if (!input.dryRun) {
            await diffMatched(tx, input, cp.pass, matched, reconcile.onUpdate);
            await capPage(tx, input, source.maxObjectsPerRun);
            await markMissing(tx, input, cp.pass, from, page.nextAfterKey, page.objects);
          }
        });
        recorded.listed(input.sourceId, page.objects.length);
        cp.listed = listed;
        cp.afterKey = afterKey;
        actx.heartbeat(cp);
        if (page.nextAfterKey === null) break;
        if (actx.cancellationSignal.aborted) throw actx.cancellationSignal.reason ?? new Error('scan cancelled');
      }
      if (input.dryRun) {
        await sql`update jobs set objects_new = ${preview.fresh}, objects_changed = ${preview.changed}, objects_discovered = ${Math.min(preview.fresh + preview.changed, source.maxObjectsPerRun)},
          objects_deleted = ${preview.gone}, objects_removed = ${preview.drifted + (reconcile.onDelete ? preview.gone : 0)} where id = ${input.jobId}`;
        return { listed: cp.listed, discovered: preview.fresh + preview.changed, deleted: preview.gone, resumedFrom };
      }
      if (reconcile.onDelete) await checkDeleteLimit(input, cp.pass, reconcile);
      const deleted = await sweep(ctx, input, cp, reconcile.onDelete);
      const [job] = await sql<{ n: string }[]>`select objects_discovered as n from jobs where id = ${input.jobId}`;
      const discovered = Number(job?.n ?? 0);
      actx.log.info('scan complete', { sourceId: input.sourceId, jobId: input.jobId, listed: cp.listed, discovered, deleted });
      return { listed: cp.listed, discovered, deleted, resumedFrom };
    },
  };
}

/** Errors that retrying within this run cannot fix, as the source's kind tells them; the controller tries again on its next poll. */
function asPermanent(kind: SourceKind, err: unknown): never {
  if (SOURCE_READERS[kind].permanent(err)) {
    const message = (err as { message?: string } | null)?.message;
    throw ApplicationFailure.create({ type: FAILURE.sourceUnreachable, message: `${errorCode(err)}: ${message ?? 'source unreachable'}`, nonRetryable: true });
  }
  throw err;
}
