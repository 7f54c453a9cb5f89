/**
 * The sharded scan's sweep claim (catalog/shards.ts claimSweep) on the real
 * Postgres: the shards of a job finish listing and ask at the same moment,
 * each on its own connection, and exactly one of them sweeps; none does while
 * a shard still lists; the winner's retry holds the claim again.
 */
import { describe, expect, it } from 'vitest';
import type { Sql } from 'postgres';
import { claimSweep, planShards } from '../../catalog/shards.js';
import { withCatalogDatabase } from '../support/migrated-db.js';
import { unique } from '../support/lakesync.js';

let sql: Sql;
withCatalogDatabase('sweep_claim', (db) => void (sql = db.$client));

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
