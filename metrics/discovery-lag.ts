import type { Logger } from 'pino';
import { JOB_STATUS, lit, SOURCE_STATUS } from '../catalog/index.js';
import type { Db } from '../db/client.js';
import { PUSHED_SOURCE_KINDS } from '../domain/kinds.js';
import type { SourceLag } from './registry.js';

/**
 * lakesync_discovery_lag_seconds, read from Postgres at scrape time so every
 * worker reports the same truth whichever of them ran the scans (aggregate
 * with max). Measured from the start of the last successful scan: anything
 * changed before it began was seen. Push-only sources and initial_only
 * sources that have completed never scan again and are left out.
 */
export function discoveryLagReader(db: Db, log: Logger): () => Promise<SourceLag[]> {
  return async () => {
    try {
      const sql = db.$client;
      const rows = await sql<{ bucket: string; source_id: string; seconds: number }[]>`
        select b.name as bucket, s.id as source_id,
          extract(epoch from now() - coalesce(
            (select max(j.started_at) from jobs j
             where j.source_id = s.id and j.kind = 'discovery' and not j.dry_run and j.status in (${lit(sql, JOB_STATUS.succeeded, JOB_STATUS.partial)})),
            s.created_at))::float8 as seconds
        from sources s join buckets b on b.id = s.bucket_id
        where s.kind <> all(${PUSHED_SOURCE_KINDS}::text[]) and s.status <> ${lit(sql, SOURCE_STATUS.completed)}`;
      return rows.map((r) => ({ bucket: r.bucket, sourceId: r.source_id, seconds: r.seconds }));
    } catch (err) {
      // A scrape must not fail because Postgres is briefly away: the gauge is simply absent.
      log.warn({ err }, 'could not read discovery lag');
      return [];
    }
  };
}
