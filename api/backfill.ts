import { and, eq, inArray, ne } from 'drizzle-orm';
import { dropDerivedData } from '../catalog/index.js';
import { rules, sources } from '../db/schema.js';
import { ingestUpdate } from '../workflows/shared.js';
import { withStart } from './controllers.js';
import type { ApiDeps } from './deps.js';
import type { BackfillDispatch as BackfillDispatchSchema } from './contract/pipelines.js';
import type { z } from 'zod';

type RuleRow = typeof rules.$inferSelect;
type BucketRow = { id: string; name: string };

/** One source's back-fill job, as the API answers it. */
type BackfillDispatch = z.infer<typeof BackfillDispatchSchema>;

/**
 * Runs a rule's pipelines over the objects already in the bucket, through the
 * same path as `ingest` with `ruleId`: one job per source it covers.
 */
export async function backfillRule(deps: ApiDeps, bucket: BucketRow, rule: RuleRow): Promise<BackfillDispatch[]> {
  if (!rule.enabled) return [];
  const scoped = rule.match.sourceIds?.length ? inArray(sources.id, rule.match.sourceIds) : undefined;
  const targets = await deps.db
    .select()
    .from(sources)
    .where(and(eq(sources.bucketId, bucket.id), scoped));
  const out: BackfillDispatch[] = [];
  for (const source of targets) {
    try {
      const r = await deps.temporal.workflow.executeUpdateWithStart(ingestUpdate, {
        args: [{ ruleId: rule.id }],
        startWorkflowOperation: withStart(deps, source, bucket.name),
      });
      out.push({ sourceId: source.id, jobId: r.jobId, dispatched: r.dispatched });
    } catch (err) {
      // The rule stands; an operator can re-run it with `ingest` and `ruleId`.
      deps.log.warn({ err, ruleId: rule.id, sourceId: source.id }, 'rule back-fill could not be dispatched');
      out.push({ sourceId: source.id, jobId: null, dispatched: 0, error: 'could not reach the source workflow; re-run with ingest and ruleId' });
    }
  }
  return out;
}

/**
 * What pipelines no (other) rule routes to any more keep nothing: their
 * per-object state and indexed text go, before a changed rule back-fills afresh. A pipeline still used by another rule keeps its
 * results until those objects are processed again.
 */
export async function purgeUnrouted(deps: ApiDeps, bucketId: string, pipelineIds: string[], ignoringRule?: string): Promise<void> {
  if (pipelineIds.length === 0) return;
  const stillRouted = new Set(
    (
      await deps.db
        .select({ ids: rules.pipelineIds })
        .from(rules)
        .where(and(eq(rules.bucketId, bucketId), eq(rules.enabled, true), ignoringRule ? ne(rules.id, ignoringRule) : undefined))
    ).flatMap((r) => r.ids),
  );
  const orphaned = pipelineIds.filter((p) => !stillRouted.has(p));
  if (orphaned.length === 0) return;
  await deps.db.$client.begin((tx) => dropDerivedData(tx, { pipelineIds: orphaned }));
}
