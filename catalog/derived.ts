import type { ISql } from 'postgres';
import { PIPELINE_KIND_NAMES, PIPELINE_KINDS, type DerivedTable } from '../domain/pipeline-kinds.js';

/**
 * The tables that hold what pipelines derived from a source object, and
 * whether a row also names the lake key it was derived at. Every pipeline
 * kind's run state lives in object_pipeline_runs; a kind with output of its
 * own declares its tables in PIPELINE_KINDS.
 */
export const DERIVED_TABLES: readonly DerivedTable[] = [
  { table: 'object_pipeline_runs', lakeKeyed: false },
  ...PIPELINE_KIND_NAMES.flatMap((kind) => PIPELINE_KINDS[kind].derivedTables),
];

/** Which derived rows to drop: those of some objects (but for pipelines to keep), of some pipelines, or indexed at one lake key. */
export type DerivedScope =
  { objectIds: readonly string[]; exceptPipelineIds?: readonly string[] } | { pipelineIds: readonly string[] } | { bucketId: string; lakeKey: string };

/**
 * Drops what pipelines derived, in the caller's transaction when it passes
 * one. The one place that knows where derived data lives: a deleted or
 * removed object, a pipeline no rule routes to, a pipeline an object's rules
 * no longer select all come here.
 */
export async function dropDerivedData(sql: ISql, scope: DerivedScope): Promise<void> {
  if ('objectIds' in scope && scope.objectIds.length === 0) return;
  if ('pipelineIds' in scope && scope.pipelineIds.length === 0) return;
  for (const { table, lakeKeyed } of DERIVED_TABLES) {
    if ('objectIds' in scope) {
      const except = scope.exceptPipelineIds ? sql`and not (pipeline_id = any(${scope.exceptPipelineIds as string[]}))` : sql``;
      await sql`delete from ${sql(table)} where object_id = any(${scope.objectIds as string[]}) ${except}`;
    } else if ('pipelineIds' in scope) {
      await sql`delete from ${sql(table)} where pipeline_id = any(${scope.pipelineIds as string[]})`;
    } else if (lakeKeyed) {
      await sql`delete from ${sql(table)} where bucket_id = ${scope.bucketId} and lake_key = ${scope.lakeKey}`;
    }
  }
}
