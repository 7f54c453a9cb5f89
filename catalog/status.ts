import { sql as drizzleSql, type SQL } from 'drizzle-orm';
import type { ISql, PendingQuery, Row } from 'postgres';
import type { JobStatus, ObjectStatus, RunStatus, SourceStatus } from '../domain/statuses.js';

// The value lists live in domain/statuses.ts (dependency-free, so workflow code
// and the CLI share them); db/schema.ts types its columns from them.
export { JOB_STATUS, JOB_STATUSES, OBJECT_STATUS, RUN_STATUS, SOURCE_STATUS, type JobOutcome, type ObjectStatus, type RunStatus } from '../domain/statuses.js';

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
