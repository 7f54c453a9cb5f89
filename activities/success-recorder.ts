import type { Sql } from 'postgres';
import { recorded } from '../metrics/registry.js';

export interface Stored {
  id: string;
  lakeKey: string;
  contentHash: string | null;
  /** Rules route it to pipelines: it is counted processed once they have run, not now. */
  process: boolean;
}

/**
 * Records copied objects in bulk: one transaction per flush instead of one
 * per object. Each row is guarded by `pending_job_id = job`, so a replay after
 * a crash records (and counts) nothing twice; an object copied but not yet
 * flushed when the worker dies is still owed and is simply copied again.
 */
export class SuccessRecorder {
  private buffer: Stored[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  recorded = 0;
  bytes = 0;

  constructor(
    private readonly sql: Sql,
    private readonly jobId: string,
    private readonly sourceId: string,
    private readonly maxRows = 100,
    private readonly maxDelayMs = 100,
  ) {}

  add(row: Stored): void {
    if (this.failure) throw this.failure;
    this.buffer.push(row);
    if (this.buffer.length >= this.maxRows) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer;
    this.buffer = [];
    if (rows.length === 0) return;
    this.flushing = this.flushing.then(() => this.write(rows)).catch((err) => void (this.failure ??= err));
  }

  /** Writes what is buffered and waits for every write; rethrows a failed one. */
  async close(): Promise<void> {
    this.flush();
    await this.flushing;
    if (this.failure) throw this.failure;
  }

  private async write(rows: Stored[]): Promise<void> {
    const { n, bytes } = await this.sql.begin(async (tx) => {
      const [done] = await tx<{ n: string; done: string; bytes: string }[]>`
        with done as (
          update source_objects so set status = 'ingested', pending_job_id = null, last_job_id = ${this.jobId}, lake_key = d.lake_key,
            ingested_etag = so.etag, content_hash = coalesce(d.content_hash, so.content_hash), ingested_at = now(),
            attempts = so.attempts + 1, last_error = null, updated_at = now(),
            process_job_id = case when d.process then ${this.jobId} else null end
          from jsonb_to_recordset(${JSON.stringify(rows.map((r) => ({ id: r.id, lake_key: r.lakeKey, content_hash: r.contentHash, process: r.process })))}::jsonb)
            as d(id text, lake_key text, content_hash text, process boolean)
          where so.id = d.id and so.pending_job_id = ${this.jobId}
          returning so.size, d.process
        )
        select count(*) as n, count(*) filter (where not process) as done, coalesce(sum(size), 0) as bytes from done`;
      const n = Number(done?.n ?? 0);
      const finished = Number(done?.done ?? 0);
      const bytes = Number(done?.bytes ?? 0);
      if (n === 0) return { n, bytes };
      await tx`update jobs set objects_processed = objects_processed + ${finished}, objects_indexed = objects_indexed + ${finished}, bytes_transferred = bytes_transferred + ${bytes} where id = ${this.jobId}`;
      await tx`update sources set total_objects_synced = total_objects_synced + ${n}, total_bytes_synced = total_bytes_synced + ${bytes} where id = ${this.sourceId}`;
      return { n, bytes };
    });
    // Counted once committed: a transaction that fails to commit records (and counts) nothing.
    this.recorded += n;
    this.bytes += bytes;
    recorded.synced(this.sourceId, n, bytes);
  }
}
