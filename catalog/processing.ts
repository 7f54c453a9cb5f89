import type { ISql, Sql } from 'postgres';
import { dropDerivedData } from './derived.js';
import { countAdopted, countProcessed, setRuleRunOwed } from './job-counters.js';
import { lit, OBJECT_STATUS as S, RUN_STATUS, type RunStatus } from './status.js';

/** One pipeline's outcome on one object. */
export interface RunOutcome {
  status: RunStatus;
  attempts: number;
  detail?: string | null;
  error?: string | null;
}

/** A page of a source's stored objects in key order, after `afterKey`. */
export async function storedPage(
  sql: ISql,
  sourceId: string,
  afterKey: string | null,
  limit: number,
): Promise<{ id: string; key: string; lake_key: string }[]> {
  return sql`
        select id, key, lake_key from source_objects
        where source_id = ${sourceId} and status = ${lit(sql, S.ingested)} and lake_key is not null and (${afterKey}::text is null or key > ${afterKey})
        order by key limit ${limit}`;
}

/**
 * Owe processing (rule re-run): hands these stored objects to a job. Objects
 * another job left owed keep their full processing (adopted by the next
 * ingestion), not just this rule's.
 */
export async function oweRuleRun(sql: ISql, jobId: string, ids: readonly string[]): Promise<void> {
  await sql`update source_objects set process_job_id = ${jobId} where id = any(${ids as string[]}) and status = ${lit(sql, S.ingested)} and process_job_id is null`;
}

/** Counts what a rule re-run owes, once: a retry that already processed some keeps its count. */
export async function countRuleRunOwed(sql: ISql, jobId: string): Promise<number> {
  const [row] = await sql<{ n: string }[]>`select count(*) as n from source_objects where process_job_id = ${jobId}`;
  const n = Number(row?.n ?? 0);
  await setRuleRunOwed(sql, jobId, n);
  return n;
}

/**
 * Owe processing (adopt): takes over stored objects whose processing an
 * earlier job left owed, and with `retryFailed`, those a pipeline failed on.
 * Returns how many it took.
 */
export async function adoptOwedProcessing(sql: Sql, input: { jobId: string; sourceId: string; retryFailed: boolean }): Promise<number> {
  const adopted = await sql.begin(async (tx) => {
    // Two statements, not one with the flag as a parameter: without failed runs to retry, the owed rows are
    // found through the partial index on process_job_id (only rows owed processing, of any source, are read),
    // where the flag's OR made every run read all of the source's objects.
    const rows = input.retryFailed
      ? await tx`
          update source_objects so set process_job_id = ${input.jobId}, updated_at = now()
          where so.source_id = ${input.sourceId} and so.status = ${lit(tx, S.ingested)} and so.pending_job_id is null
            and so.process_job_id is distinct from ${input.jobId}
            and (so.process_job_id is not null
                 or exists (select 1 from object_pipeline_runs r where r.object_id = so.id and r.status = ${lit(tx, RUN_STATUS.failed)}))
          returning so.id`
      : await tx`
          update source_objects so set process_job_id = ${input.jobId}, updated_at = now()
          where so.process_job_id is not null and so.process_job_id <> ${input.jobId}
            and so.source_id = ${input.sourceId} and so.status = ${lit(tx, S.ingested)} and so.pending_job_id is null
          returning so.id`;
    await countAdopted(tx, input.jobId, rows.count);
    return rows;
  });
  return adopted.count;
}

/** Marks the pipelines about to run on these objects `processing`, for this job and content. */
export async function markProcessing(sql: ISql, jobId: string, marks: readonly { object_id: string; pipeline_id: string; etag: string }[]): Promise<void> {
  if (marks.length === 0) return;
  await sql`
          insert into object_pipeline_runs (object_id, pipeline_id, status, etag, job_id, updated_at)
          select m.object_id, m.pipeline_id, ${lit(sql, RUN_STATUS.processing)}, m.etag, ${jobId}, now()
          from jsonb_to_recordset(${JSON.stringify(marks)}::jsonb) as m(object_id text, pipeline_id text, etag text)
          on conflict (object_id, pipeline_id) do update set status = ${lit(sql, RUN_STATUS.processing)}, etag = excluded.etag, job_id = excluded.job_id, error = null, updated_at = now()`;
}

/**
 * Record processed: one object's pipeline outcomes, counted once — the row
 * is guarded by `process_job_id = job`, so a retried batch counts nothing
 * twice. With `pruneOthers`, pipelines its rules no longer select keep
 * nothing of it. Returns whether it is indexed (no selected pipeline
 * failed), or null when it had been recorded already.
 */
export async function recordProcessed(
  sql: Sql,
  jobId: string,
  obj: { id: string; etag: string },
  selected: readonly string[],
  outcomes: ReadonlyMap<string, RunOutcome>,
  pruneOthers: boolean,
): Promise<boolean | null> {
  return sql.begin(async (tx) => {
    const done = await tx`update source_objects set process_job_id = null, updated_at = now() where id = ${obj.id} and process_job_id = ${jobId} returning id`;
    if (done.count === 0) return null;
    const rows = [...outcomes].map(([pipelineId, o]) => ({
      pipeline_id: pipelineId,
      status: o.status,
      attempts: o.attempts,
      detail: o.detail ?? null,
      error: o.error ?? null,
    }));
    if (rows.length > 0) {
      await tx`
          insert into object_pipeline_runs (object_id, pipeline_id, status, etag, attempts, detail, error, job_id, updated_at)
          select ${obj.id}, r.pipeline_id, r.status, ${obj.etag}, r.attempts, r.detail, r.error, ${jobId}, now()
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(pipeline_id text, status text, attempts int, detail text, error text)
          on conflict (object_id, pipeline_id) do update set status = excluded.status, etag = excluded.etag, attempts = excluded.attempts,
            detail = excluded.detail, error = excluded.error, job_id = excluded.job_id, updated_at = now()`;
    }
    if (pruneOthers) await dropDerivedData(tx, { objectIds: [obj.id], exceptPipelineIds: selected });
    const ok = selected.every((p) => {
      const o = outcomes.get(p);
      return o === undefined || o.status !== RUN_STATUS.failed;
    });
    await countProcessed(tx, jobId, ok);
    return ok;
  });
}

/** Whether stored objects of the source are still owed processing an earlier job left unfinished (what the next job adopts). */
export async function owesProcessing(sql: ISql, sourceId: string): Promise<boolean> {
  const [row] = await sql<{ owed: boolean }[]>`
        select exists (select 1 from source_objects
          where source_id = ${sourceId} and status = ${lit(sql, S.ingested)} and pending_job_id is null and process_job_id is not null) as owed`;
  return row?.owed ?? false;
}
