import type { ISql, Sql } from 'postgres';
import type { ListedShard, ShardRange } from '../domain/shards.js';
import { listedCount } from './job-counters.js';
import type { CursorMove } from './quiet-page.js';
import { nextScanPass } from './scan.js';
import { lit, OBJECT_STATUS as S } from './status.js';

/**
 * A sharded scan's bookkeeping (`scan_shards`): each shard of a job lists its
 * key range with its own cursor; all of them mark missing objects with the
 * job's one pass (jobs.scan_pass), so the sweep after the last shard covers
 * exactly the ranges they listed.
 */

export interface ShardRow extends ShardRange {
  shard: number;
  /** The last key this shard committed (null: none yet). */
  cursor: string | null;
  listed: number;
  finished: boolean;
}

interface Row {
  shard: number;
  after_key: string | null;
  up_to: string | null;
  cursor: string | null;
  listed: string;
  finished_at: Date | null;
}

const shardOf = (r: Row): ShardRow => ({
  shard: r.shard,
  after: r.after_key,
  upTo: r.up_to,
  cursor: r.cursor,
  listed: Number(r.listed),
  finished: r.finished_at !== null,
});

/**
 * The job's shards, made once: the first attempt takes a scan pass and writes
 * the ranges; a retried one (its ranges computed again, perhaps differently)
 * gets the rows the first wrote, so shards and their cursors never move.
 */
export async function planShards(sql: Sql, jobId: string, sourceId: string, ranges: readonly ShardRange[]): Promise<{ pass: number; shards: ShardRow[] }> {
  return sql.begin(async (tx) => {
    const [job] = await tx<{ scan_pass: number | null }[]>`select scan_pass from jobs where id = ${jobId} for update`;
    const existing = await readShards(tx, jobId);
    if (job?.scan_pass != null && existing.length > 0) return { pass: job.scan_pass, shards: existing };
    const pass = await nextScanPass(tx, sourceId);
    await tx`update jobs set scan_pass = ${pass} where id = ${jobId}`;
    const rows = ranges.map((r, shard) => ({ job_id: jobId, shard, after_key: r.after, up_to: r.upTo }));
    await tx`insert into scan_shards ${tx(rows, 'job_id', 'shard', 'after_key', 'up_to')}`;
    return { pass, shards: await readShards(tx, jobId) };
  });
}

export async function readShards(sql: ISql, jobId: string): Promise<ShardRow[]> {
  const rows = await sql<Row[]>`select shard, after_key, up_to, cursor, listed, finished_at from scan_shards where job_id = ${jobId} order by shard`;
  return rows.map(shardOf);
}

export async function readShard(sql: ISql, jobId: string, shard: number): Promise<(ShardRow & { pass: number }) | undefined> {
  const [row] = await sql<(Row & { scan_pass: number })[]>`
    select s.shard, s.after_key, s.up_to, s.cursor, s.listed, s.finished_at, j.scan_pass
    from scan_shards s join jobs j on j.id = s.job_id where s.job_id = ${jobId} and s.shard = ${shard}`;
  return row ? { ...shardOf(row), pass: row.scan_pass } : undefined;
}

/**
 * Whether this shard sweeps the job's scan: once its own last page has
 * committed, the first shard to find every shard finished claims the sweep
 * (usually the last to finish listing). Exactly one shard wins: each asks only
 * after its finish committed, so the last to ask sees every finish; two that
 * both see them queue on the job's row, and the second finds the claim taken.
 * A job that has ended (cancelled while its shards listed) is no shard's to
 * sweep, but the winner's retry holds the claim again, ended or not.
 */
export async function claimSweep(sql: ISql, jobId: string, shard: number): Promise<boolean> {
  const won = await sql`
    update jobs set sweep_shard = ${shard}
    where id = ${jobId} and ((sweep_shard is null and finished_at is null) or sweep_shard = ${shard})
      and not exists (select 1 from scan_shards where job_id = ${jobId} and finished_at is null)
    returning id`;
  return won.length > 0;
}

/**
 * A shard's page committed, with its diff: moves the shard's cursor only from
 * where this attempt found it (locking the shard's row), so an attempt that
 * lost its heartbeat and kept going never re-diffs what a newer one
 * committed. Returns false when a newer attempt moved it on; the caller counts
 * the page on the job (countListed) in the same transaction.
 */
export async function advanceShardCursor(tx: ISql, jobId: string, shard: number, page: ShardPage): Promise<boolean> {
  const moved = await shardCursorUpdate(tx, jobId, shard, page);
  return moved.count > 0;
}

type ShardPage = { from: string | null; to: string | null; listed: number; last: boolean };

const shardCursorUpdate = (tx: ISql, jobId: string, shard: number, page: ShardPage) =>
  tx`update scan_shards set cursor = ${page.to}, listed = listed + ${page.listed}, pages = pages + 1,
      finished_at = case when ${page.last}::boolean then now() end
    where job_id = ${jobId} and shard = ${shard} and cursor is not distinct from ${page.from} and finished_at is null`;

/** advanceShardCursor and countListed for commitQuietPage: made only if the page is quiet. */
export const shardCursorMove = (tx: ISql, jobId: string, shard: number, page: ShardPage): CursorMove =>
  tx`moved as (${shardCursorUpdate(tx, jobId, shard, page)} and (select ok from quiet) returning 1),
    counted as (${listedCount(tx, jobId, page.listed)} and exists (select from moved))`;

/**
 * The source's last complete scan: how many keys it listed (what the
 * automatic shard count reads) and, when it was sharded, each shard's range
 * and count (what a next scan may keep, domain/shards.ts keptSplit). By
 * creation: a source runs one discovery at a time, so the latest created is
 * the latest finished, and the (source_id, created_at) index answers.
 */
export async function lastScan(sql: ISql, sourceId: string): Promise<{ listed: number; shards: ListedShard[] }> {
  const [job] = await sql<{ id: string; n: string }[]>`
    select id, objects_listed as n from jobs
    where source_id = ${sourceId} and kind = 'discovery' and not dry_run and scan_finished_at is not null
    order by created_at desc limit 1`;
  if (!job) return { listed: 0, shards: [] };
  const shards = await sql<{ after_key: string | null; up_to: string | null; listed: string }[]>`
    select after_key, up_to, listed from scan_shards where job_id = ${job.id} order by shard`;
  return { listed: Number(job.n), shards: shards.map((s) => ({ after: s.after_key, upTo: s.up_to, listed: Number(s.listed) })) };
}

/**
 * Up to `count - 1` keys cutting the source's catalogued keys into `count`
 * equal parts: sampled StartAfter boundaries, balanced by what the last scans
 * listed. Fewer when the catalog holds fewer keys than shards.
 */
export async function sampleCuts(sql: ISql, sourceId: string, count: number): Promise<string[]> {
  if (count < 2) return [];
  const rows = await sql<{ key: string }[]>`
    select max(key) as key from (
      select key, ntile(${count}) over (order by key) as part
      from source_objects where source_id = ${sourceId} and status <> ${lit(sql, S.deleted)}
    ) parts group by part order by part`;
  // The last part's end is no cut: the last shard is unbounded.
  return rows.slice(0, -1).map((r) => r.key);
}

/** Up to `limit` keys owed to the job in (after, upTo], in key order: a shard's dispatch window (null bounds are open). */
export async function owedKeys(sql: ISql, jobId: string, after: string | null, upTo: string | null, limit: number): Promise<string[]> {
  const rows = await sql<{ key: string }[]>`
    select key from source_objects
    where (pending_job_id = ${jobId} or process_job_id = ${jobId}) and (${after}::text is null or key > ${after})
      and (${upTo}::text is null or key <= ${upTo})
    order by key limit ${limit}`;
  return rows.map((r) => r.key);
}
