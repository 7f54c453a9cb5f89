import { Context } from '@temporalio/activity';
import pLimit from 'p-limit';
import { recorded } from '../metrics/registry.js';
import type { ActivityDeps } from './deps.js';
import { findSourceRow } from './source-context.js';
import { loadRouting } from '../db/routing.js';
import { runPipeline } from './pipelines/runners.js';
import type { PipelineOutcome, StoredObject } from './pipelines/types.js';

interface OwedRow {
  id: string;
  key: string;
  lake_key: string;
  etag: string;
  size: number;
}

interface RunRow {
  object_id: string;
  pipeline_id: string;
  status: string;
  etag: string;
}

export interface ProcessResult {
  processed: number;
  indexed: number;
}

/** Stored objects of a source, a page at a time in key order, as rules see them. */
const PAGE = 1000;

export function processingActivities(deps: ActivityDeps) {
  const sql = deps.db.$client;

  /**
   * Records one object's pipeline outcomes and counts it, once: the row is
   * guarded by `process_job_id = job`, so a retried batch counts nothing twice.
   * Returns whether it is indexed, or null when it had been recorded already.
   */
  async function finishObject(
    jobId: string,
    obj: OwedRow,
    selected: string[],
    outcomes: Map<string, PipelineOutcome>,
    pruneOthers: boolean,
  ): Promise<boolean | null> {
    return sql.begin(async (tx) => {
      const done =
        await tx`update source_objects set process_job_id = null, updated_at = now() where id = ${obj.id} and process_job_id = ${jobId} returning id`;
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
      if (pruneOthers) {
        // Pipelines its rules no longer select keep nothing of it.
        await tx`delete from object_pipeline_runs where object_id = ${obj.id} and not (pipeline_id = any(${selected}))`;
        await tx`delete from fulltext_documents where object_id = ${obj.id} and not (pipeline_id = any(${selected}))`;
      }
      const ok = selected.every((p) => {
        const o = outcomes.get(p);
        return o === undefined || o.status !== 'failed';
      });
      await tx`update jobs set objects_processed = objects_processed + 1, objects_indexed = objects_indexed + ${ok ? 1 : 0} where id = ${jobId}`;
      return ok;
    });
  }

  return {
    /**
     * Runs the stored objects of one batch through the pipelines their rules
     * select. With `ruleId`, only that rule's pipelines run, and they run
     * again even where they already succeeded.
     */
    async processBatch(input: { jobId: string; sourceId: string; afterKey: string | null; lastKey: string; ruleId?: string | null }): Promise<ProcessResult> {
      const actx = Context.current();
      const ctx = await findSourceRow(deps, input.sourceId);
      const routing = await loadRouting(deps, ctx.source.bucketId);
      const owed = await sql<OwedRow[]>`
        select id, key, lake_key, coalesce(ingested_etag, etag) as etag, size::float8 as size from source_objects
        where process_job_id = ${input.jobId} and lake_key is not null
          and (${input.afterKey}::text is null or key > ${input.afterKey}) and key <= ${input.lastKey}
        order by key`;
      const ids = owed.map((o) => o.id);
      const existing = ids.length
        ? await sql<RunRow[]>`select object_id, pipeline_id, status, etag from object_pipeline_runs where object_id = any(${ids})`
        : [];
      const runs = new Map(existing.map((r) => [`${r.object_id}\n${r.pipeline_id}`, r]));

      const work = owed.map((obj) => {
        const selected = routing.route({ sourceId: input.sourceId, lakeKey: obj.lake_key }, input.ruleId);
        // Without a rule to re-run, what already succeeded for this content is not done again.
        const todo = selected.filter((p) => {
          const prev = runs.get(`${obj.id}\n${p}`);
          return input.ruleId || !prev || prev.etag !== obj.etag || (prev.status !== 'indexed' && prev.status !== 'skipped');
        });
        return { obj, selected, todo };
      });
      const marks = work.flatMap((w) => w.todo.map((p) => ({ object_id: w.obj.id, pipeline_id: p, etag: w.obj.etag })));
      if (marks.length > 0) {
        await sql`
          insert into object_pipeline_runs (object_id, pipeline_id, status, etag, job_id, updated_at)
          select m.object_id, m.pipeline_id, 'processing', m.etag, ${input.jobId}, now()
          from jsonb_to_recordset(${JSON.stringify(marks)}::jsonb) as m(object_id text, pipeline_id text, etag text)
          on conflict (object_id, pipeline_id) do update set status = 'processing', etag = excluded.etag, job_id = excluded.job_id, error = null, updated_at = now()`;
      }

      const result: ProcessResult = { processed: 0, indexed: 0 };
      const heartbeat = setInterval(() => actx.heartbeat(result), 2000);
      const limit = pLimit(deps.objectConcurrency);
      try {
        await Promise.all(
          work.map(({ obj, selected, todo }) =>
            limit(async () => {
              if (actx.cancellationSignal.aborted) return; // left owed: the retried batch processes it
              const stored: StoredObject = {
                id: obj.id,
                sourceId: input.sourceId,
                bucketId: ctx.source.bucketId,
                bucketName: ctx.bucketName,
                lakeKey: obj.lake_key,
                etag: obj.etag,
                size: obj.size,
              };
              const outcomes = new Map<string, PipelineOutcome>();
              for (const pipelineId of todo) {
                const outcome = await runPipeline(deps, routing.pipelines.get(pipelineId)!, stored, { jobId: input.jobId, rerun: Boolean(input.ruleId) });
                if (outcome.status === 'failed') actx.log.warn('pipeline failed', { jobId: input.jobId, key: obj.lake_key, pipelineId, error: outcome.error });
                outcomes.set(pipelineId, outcome);
              }
              const indexed = await finishObject(input.jobId, obj, selected, outcomes, !input.ruleId);
              recorded.processed(input.sourceId, indexed);
              if (indexed) result.indexed++;
              result.processed++;
            }),
          ),
        );
        // Cancelled (worker shutting down): fail this attempt so the batch is retried now, not after a heartbeat timeout.
        actx.cancellationSignal.throwIfAborted();
      } finally {
        clearInterval(heartbeat);
      }
      return result;
    },

    /** How many stored objects of a source a rule selects. */
    async previewRuleRun(input: { sourceId: string; ruleId: string }): Promise<number> {
      return forEachSelected(input.sourceId, input.ruleId, async () => undefined);
    },

    /** Hands a rule's stored objects of one source to a job, to run its pipelines again. */
    async prepareRuleRun(input: { jobId: string; sourceId: string; ruleId: string }): Promise<number> {
      await forEachSelected(input.sourceId, input.ruleId, async (ids) => {
        // Objects another job left owed keep their full processing (adopted by the next ingestion), not just this rule's.
        await sql`update source_objects set process_job_id = ${input.jobId} where id = any(${ids}) and status = 'ingested' and process_job_id is null`;
      });
      const [row] = await sql<{ n: string }[]>`select count(*) as n from source_objects where process_job_id = ${input.jobId}`;
      const n = Number(row?.n ?? 0);
      await sql`update jobs set objects_discovered = ${n} where id = ${input.jobId} and objects_processed = 0`;
      return n;
    },

    /**
     * Takes over stored objects whose processing an earlier job left owed (it
     * failed or was canceled first), and with `retryFailed`, those a pipeline
     * failed on, so this job finishes them.
     */
    async adoptOwedProcessing(input: { jobId: string; sourceId: string; retryFailed: boolean }): Promise<number> {
      const adopted = await sql.begin(async (tx) => {
        const rows = await tx`
          update source_objects so set process_job_id = ${input.jobId}, updated_at = now()
          where so.source_id = ${input.sourceId} and so.status = 'ingested' and so.pending_job_id is null
            and so.process_job_id is distinct from ${input.jobId}
            and (so.process_job_id is not null
                 or (${input.retryFailed}::boolean and exists (select 1 from object_pipeline_runs r where r.object_id = so.id and r.status = 'failed')))
          returning so.id`;
        if (rows.count > 0) await tx`update jobs set objects_discovered = objects_discovered + ${rows.count} where id = ${input.jobId}`;
        return rows;
      });
      return adopted.count;
    },
  };

  async function forEachSelected(sourceId: string, ruleId: string, onPage: (ids: string[]) => Promise<void>): Promise<number> {
    const ctx = await findSourceRow(deps, sourceId);
    const routing = await loadRouting(deps, ctx.source.bucketId);
    let after: string | null = null;
    let n = 0;
    for (;;) {
      const page: { id: string; key: string; lake_key: string }[] = await sql`
        select id, key, lake_key from source_objects
        where source_id = ${sourceId} and status = 'ingested' and lake_key is not null and (${after}::text is null or key > ${after})
        order by key limit ${PAGE}`;
      if (page.length === 0) return n;
      const ids = page.filter((o) => routing.route({ sourceId, lakeKey: o.lake_key }, ruleId).length > 0).map((o) => o.id);
      if (ids.length > 0) await onPage(ids);
      n += ids.length;
      after = page.at(-1)!.key;
    }
  }
}
