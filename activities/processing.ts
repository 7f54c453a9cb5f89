import { Context } from '@temporalio/activity';
import pLimit from 'p-limit';
import { recorded } from '../metrics/registry.js';
import { adoptOwedProcessing, countRuleRunOwed, markProcessing, oweRuleRun, recordProcessed, storedPage } from '../catalog/index.js';
import type { ActivityDeps } from './deps.js';
import { findSourceRow } from './source-context.js';
import { loadRouting } from '../db/routing.js';
import { runPipeline } from './pipelines/runners.js';
import type { PipelineOutcome, StoredObject } from './pipelines/types.js';
import { RUN_STATUS, isSettledRun, type RunStatus } from '../domain/statuses.js';

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
  status: RunStatus;
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
          return input.ruleId || !prev || prev.etag !== obj.etag || !isSettledRun(prev.status);
        });
        return { obj, selected, todo };
      });
      const marks = work.flatMap((w) => w.todo.map((p) => ({ object_id: w.obj.id, pipeline_id: p, etag: w.obj.etag })));
      await markProcessing(sql, input.jobId, marks);

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
                const outcome = await runPipeline(deps, routing.pipelines.get(pipelineId)!, stored, { jobId: input.jobId, rerun: Boolean(input.ruleId) }).catch(
                  (err: unknown) => {
                    if (actx.cancellationSignal.aborted) return null;
                    throw err;
                  },
                );
                // Cancelled while it ran: nothing is recorded, the object stays owed and the retried batch (or a later job) runs it.
                if (outcome === null || actx.cancellationSignal.aborted) return;
                if (outcome.status === RUN_STATUS.failed)
                  actx.log.warn('pipeline failed', { jobId: input.jobId, key: obj.lake_key, pipelineId, error: outcome.error });
                outcomes.set(pipelineId, outcome);
              }
              const indexed = await recordProcessed(sql, input.jobId, obj, selected, outcomes, !input.ruleId);
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
      await forEachSelected(input.sourceId, input.ruleId, (ids) => oweRuleRun(sql, input.jobId, ids));
      return countRuleRunOwed(sql, input.jobId);
    },

    /**
     * Takes over stored objects whose processing an earlier job left owed (it
     * failed or was canceled first), and with `retryFailed`, those a pipeline
     * failed on, so this job finishes them.
     */
    async adoptOwedProcessing(input: { jobId: string; sourceId: string; retryFailed: boolean }): Promise<number> {
      return adoptOwedProcessing(sql, input);
    },
  };

  async function forEachSelected(sourceId: string, ruleId: string, onPage: (ids: string[]) => Promise<void>): Promise<number> {
    const ctx = await findSourceRow(deps, sourceId);
    const routing = await loadRouting(deps, ctx.source.bucketId);
    let after: string | null = null;
    let n = 0;
    for (;;) {
      const page = await storedPage(sql, sourceId, after, PAGE);
      if (page.length === 0) return n;
      const ids = page.filter((o) => routing.route({ sourceId, lakeKey: o.lake_key }, ruleId).length > 0).map((o) => o.id);
      if (ids.length > 0) await onPage(ids);
      n += ids.length;
      after = page.at(-1)!.key;
    }
  }
}
