import type { Sql } from 'postgres';
import { recordCopied, type Copied } from '../catalog/index.js';
import { recorded } from '../metrics/registry.js';

/**
 * Records copied objects in bulk: one transaction per flush instead of one
 * per object. Each row is guarded by `pending_job_id = job`, so a replay after
 * a crash records (and counts) nothing twice; an object copied but not yet
 * flushed when the worker dies is still owed and is simply copied again.
 */
export class SuccessRecorder {
  private buffer: Copied[] = [];
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

  add(row: Copied): void {
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

  private async write(rows: Copied[]): Promise<void> {
    const { n, bytes } = await recordCopied(this.sql, { jobId: this.jobId, sourceId: this.sourceId }, rows);
    // Counted once committed: a transaction that fails to commit records (and counts) nothing.
    this.recorded += n;
    this.bytes += bytes;
    recorded.synced(this.sourceId, n, bytes);
  }
}
