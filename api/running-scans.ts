import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { jobs, type SourceRow } from '../db/schema.js';
import { JOB_STATUS } from '../domain/statuses.js';

/** Where a source's running scan stands: Mixpeek's resume cursor and objects processed. */
export interface RunningScan {
  /** The last key the scan committed; null before its first page. */
  cursor: string | null;
  listed: number;
}

/**
 * The running scans of these sources, by source id: each one's current job,
 * when it is a discovery whose listing has not finished. One query per page of
 * sources; a source with no scan running is absent.
 */
export async function runningScans(db: Db, rows: readonly SourceRow[]): Promise<Map<string, RunningScan>> {
  const current = rows.map((s) => s.currentJobId).filter((id): id is string => id !== null);
  if (current.length === 0) return new Map();
  const found = await db
    .select({ sourceId: jobs.sourceId, cursor: jobs.scanCursor, listed: jobs.objectsListed })
    .from(jobs)
    .where(and(inArray(jobs.id, current), eq(jobs.kind, 'discovery'), eq(jobs.status, JOB_STATUS.running), isNull(jobs.scanFinishedAt)));
  return new Map(found.map((f) => [f.sourceId, { cursor: f.cursor, listed: f.listed }]));
}

/** The running scan of one source, or null. */
export const runningScan = async (db: Db, row: SourceRow): Promise<RunningScan | null> => (await runningScans(db, [row])).get(row.id) ?? null;
