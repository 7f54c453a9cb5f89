import { sql as drizzleSql, type SQL } from 'drizzle-orm';
import type { ISql, PendingQuery, Row } from 'postgres';
import type { jobs, objectPipelineRuns, sourceObjects } from '../db/schema.js';

// The schema's columns are the one source of truth: these unions are read off them.
/** Where a source object stands; see the state machine in catalog/index.ts. */
export type ObjectStatus = (typeof sourceObjects.$inferSelect)['status'];
export type JobStatus = (typeof jobs.$inferSelect)['status'];
/** One stored object's state in one pipeline. */
export type RunStatus = (typeof objectPipelineRuns.$inferSelect)['status'];
/** How a finished job ended. */
export type JobOutcome = Exclude<JobStatus, 'JOB_STATUS_PENDING' | 'JOB_STATUS_RUNNING'>;

/** Each status under its own name: `satisfies` holds the map to the schema's union, no more and no less. */
export const OBJECT_STATUS = {
  /** Owed a copy (or, pushed, owed cataloguing) by the job in `pending_job_id`, or by the next one. */
  pending: 'pending',
  /** Copied into the lake at `lake_key`. */
  ingested: 'ingested',
  /** Dead-lettered: out of attempts, or failed for good. */
  dead: 'dead',
  /** Gone at the source, or removed from the lake. */
  deleted: 'deleted',
  /** Listed, but outside the source's filters. */
  filtered: 'filtered',
} as const satisfies { [S in ObjectStatus]: S };

export const JOB_STATUS = {
  pending: 'JOB_STATUS_PENDING',
  running: 'JOB_STATUS_RUNNING',
  succeeded: 'JOB_STATUS_SUCCEEDED',
  partial: 'JOB_STATUS_PARTIAL',
  failed: 'JOB_STATUS_FAILED',
  canceled: 'JOB_STATUS_CANCELED',
} as const satisfies { [S in JobStatus as S extends `JOB_STATUS_${infer Name}` ? Lowercase<Name> : never]: S };

export const RUN_STATUS = {
  pending: 'pending',
  processing: 'processing',
  indexed: 'indexed',
  failed: 'failed',
  skipped: 'skipped',
} as const satisfies { [S in RunStatus]: S };

/**
 * What the controller mirrors into `sources.status`. The column is untyped
 * text (the controller workflow builds the value), so this map is its
 * reference; the API reports the same values.
 */
export const SOURCE_STATUS = {
  active: 'SOURCE_STATUS_ACTIVE',
  paused: 'SOURCE_STATUS_PAUSED',
  suspended: 'SOURCE_STATUS_SUSPENDED',
  completed: 'SOURCE_STATUS_COMPLETED',
} as const;
export type SourceStatus = (typeof SOURCE_STATUS)[keyof typeof SOURCE_STATUS];

type AnyStatus = ObjectStatus | JobStatus | RunStatus | SourceStatus;

/**
 * Statuses as quoted SQL literals (`'deleted', 'filtered'`), for the query
 * text itself: bound as parameters instead, they would change the statements
 * the planner sees. Only plain status names pass.
 */
export function sqlLiterals(statuses: readonly AnyStatus[]): string {
  if (statuses.length === 0) throw new Error('sqlLiterals: no status given');
  return statuses
    .map((s) => {
      if (!/^[A-Za-z_]+$/.test(s)) throw new Error(`sqlLiterals: not a status name: ${JSON.stringify(s)}`);
      return `'${s}'`;
    })
    .join(', ');
}

/** The statuses as a postgres.js fragment, for `status = ${lit(tx, S.ingested)}` or `status in (${lit(tx, S.deleted, S.filtered)})`. */
export function lit(sql: ISql, ...statuses: AnyStatus[]): PendingQuery<Row[]> {
  return sql.unsafe(sqlLiterals(statuses));
}

/** The same, as a drizzle fragment. */
export function drizzleLit(...statuses: AnyStatus[]): SQL {
  return drizzleSql.raw(sqlLiterals(statuses));
}
