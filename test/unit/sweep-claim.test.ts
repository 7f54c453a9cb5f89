/**
 * The sharded scan's sweep claim (catalog/shards.ts claimSweep) on the real
 * Postgres: the shards of a job finish listing and ask at the same moment,
 * each on its own connection, and exactly one of them sweeps; none does while
 * a shard still lists (its finish not yet committed); the winner's retry holds
 * the claim again; an ended job is no shard's to sweep, and its scan's cursor
 * no longer moves (a stale attempt cannot list into it).
 */
import { describe, expect, it } from 'vitest';
import type { Sql } from 'postgres';
import { claimSweep, planShards } from '../../catalog/shards.js';
import { advanceScanCursor } from '../../catalog/job-counters.js';
import { withCatalogDatabase } from '../support/migrated-db.js';
import { unique } from '../support/lakesync.js';

let sql: Sql;
// Enough connections for every shard to finish and ask at once.
withCatalogDatabase('sweep_claim', (db) => void (sql = db.$client), 8);

/** A job whose scan splits into `n` shards, none finished. */
async function shardedJob(n: number): Promise<string> {
  const sourceId = unique('src');
  const jobId = unique('job');
  await sql`insert into sources (id, bucket_id, name, kind, workflow_id, connection) values (${sourceId}, 'b1', ${sourceId}, 's3', ${`c-${sourceId}`}, ${JSON.stringify({})})`;
  await sql`insert into jobs (id, bucket_id, source_id, kind, trigger) values (${jobId}, 'b1', ${sourceId}, 'discovery', 'manual')`;
  const cuts = Array.from({ length: n - 1 }, (_, i) => `k${i + 1}`);
  await planShards(
    sql,
    jobId,
    sourceId,
    Array.from({ length: n }, (_, i) => ({ after: i === 0 ? null : cuts[i - 1]!, upTo: cuts[i] ?? null })),
  );
  return jobId;
}

const finish = (jobId: string, shard: number) => sql`update scan_shards set finished_at = now() where job_id = ${jobId} and shard = ${shard}`;

describe('the sweep claim', () => {
  it('goes to exactly one of the shards that finish at the same moment', async () => {
    for (let round = 0; round < 40; round++) {
      const shards = 2 + (round % 3);
      const jobId = await shardedJob(shards);
      // Each shard commits its last page, then asks: separate statements, concurrently, as scanShard does.
      const won = await Promise.all(
        Array.from({ length: shards }, async (_, shard) => {
          await finish(jobId, shard);
          return claimSweep(sql, jobId, shard);
        }),
      );
      expect(won.filter(Boolean), `round ${round}: ${JSON.stringify(won)}`).toHaveLength(1);
      const [row] = await sql<{ sweep_shard: number }[]>`select sweep_shard from jobs where id = ${jobId}`;
      expect(row!.sweep_shard).toBe(won.indexOf(true));
    }
  });

  it('is no shard’s while one’s finish is uncommitted, and the last to ask then wins', async () => {
    const jobId = await shardedJob(3);
    await finish(jobId, 0);
    await sql.begin(async (tx) => {
      await tx`update scan_shards set finished_at = now() where job_id = ${jobId} and shard = 1`;
      // Shard 1 has committed nothing yet: the others, asking on their own connections, see it listing.
      await finish(jobId, 2);
      expect(await Promise.all([claimSweep(sql, jobId, 0), claimSweep(sql, jobId, 2)])).toEqual([false, false]);
    });
    expect(await claimSweep(sql, jobId, 1)).toBe(true);
  });

  it('is no shard’s once the job has ended, but its winner’s retry still holds it', async () => {
    const cancelled = await shardedJob(2);
    await finish(cancelled, 0);
    await finish(cancelled, 1);
    await sql`update jobs set status = 'canceled', finished_at = now() where id = ${cancelled}`;
    expect(await Promise.all([claimSweep(sql, cancelled, 0), claimSweep(sql, cancelled, 1)])).toEqual([false, false]);

    const ended = await shardedJob(2);
    await finish(ended, 0);
    await finish(ended, 1);
    expect(await claimSweep(sql, ended, 1)).toBe(true);
    await sql`update jobs set status = 'succeeded', finished_at = now() where id = ${ended}`;
    expect(await claimSweep(sql, ended, 1)).toBe(true);
    expect(await claimSweep(sql, ended, 0)).toBe(false);
  });

  it('leaves an ended job’s scan cursor where it is', async () => {
    const jobId = await shardedJob(2);
    const [row] = await sql<{ scan_pass: number }[]>`select scan_pass from jobs where id = ${jobId}`;
    const pass = row!.scan_pass;
    expect(await advanceScanCursor(sql, jobId, { pass, from: null, to: 'k0', listed: 1 })).toBe(true);
    await sql`update jobs set status = 'succeeded', finished_at = now() where id = ${jobId}`;
    expect(await advanceScanCursor(sql, jobId, { pass, from: 'k0', to: 'k1', listed: 2 })).toBe(false);
    expect((await sql`select scan_cursor, objects_listed::int from jobs where id = ${jobId}`)[0]).toEqual({ scan_cursor: 'k0', objects_listed: 1 });
  });

  it('is no shard’s while one still lists, and the winner’s again on its retry', async () => {
    const jobId = await shardedJob(3);
    await finish(jobId, 0);
    await finish(jobId, 2);
    expect(await claimSweep(sql, jobId, 0)).toBe(false);
    expect(await claimSweep(sql, jobId, 2)).toBe(false);
    expect((await sql`select sweep_shard from jobs where id = ${jobId}`)[0]).toEqual({ sweep_shard: null });
    await finish(jobId, 1);
    expect(await claimSweep(sql, jobId, 1)).toBe(true);
    expect(await claimSweep(sql, jobId, 0)).toBe(false);
    expect(await claimSweep(sql, jobId, 1)).toBe(true);
    expect((await sql`select sweep_shard from jobs where id = ${jobId}`)[0]).toEqual({ sweep_shard: 1 });
  });
});
