/**
 * maxObjectsPerRun on the real Postgres: oweListed defers what lies past the
 * cap in the same write (the page's highest keys, pending and owed to no
 * job), and deferExcess settles exactly what two shards' pages committing at
 * once overshot. Counters are read back from the job and the source.
 */
import { describe, expect, it } from 'vitest';
import type { Sql } from 'postgres';
import { deferExcess, oweListed, type Listed, type ScanRef } from '../../catalog/scan.js';
import { withCatalogDatabase } from '../support/migrated-db.js';
import { unique } from '../support/lakesync.js';

let sql: Sql;
withCatalogDatabase('owe_cap', (db) => void (sql = db.$client), 4);

async function freshJob(): Promise<ScanRef> {
  const sourceId = unique('src');
  const jobId = unique('job');
  await sql`insert into sources (id, bucket_id, name, kind, workflow_id, connection) values (${sourceId}, 'b1', ${sourceId}, 's3', ${`c-${sourceId}`}, ${JSON.stringify({})})`;
  await sql`insert into jobs (id, bucket_id, source_id, kind, trigger) values (${jobId}, 'b1', ${sourceId}, 'discovery', 'manual')`;
  return { jobId, sourceId, fullSync: false };
}

const keys = (prefix: string, n: number): Listed[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}/${String(i).padStart(4, '0')}`, etag: `"${prefix}${i}"`, size: i }));

/** One page's transaction as a scan commits it: owe with the cap, then the exact guard. */
const commitPage = (ref: ScanRef, page: Listed[], cap: number) =>
  sql.begin(async (tx) => {
    await oweListed(tx, ref, 1, page, true, cap);
    await deferExcess(tx, ref, cap);
  });

async function counters(ref: ScanRef) {
  const [job] = await sql<{ discovered: string; fresh: string; deferred: string }[]>`
    select objects_discovered as discovered, objects_new as fresh, objects_deferred as deferred from jobs where id = ${ref.jobId}`;
  const [source] = await sql<{ total: string }[]>`select total_objects_discovered as total from sources where id = ${ref.sourceId}`;
  const [rows] = await sql<{ owed: string; waiting: string }[]>`
    select count(*) filter (where pending_job_id = ${ref.jobId}) as owed, count(*) filter (where status = 'pending' and pending_job_id is null) as waiting
    from source_objects where source_id = ${ref.sourceId}`;
  return {
    discovered: Number(job!.discovered),
    fresh: Number(job!.fresh),
    deferred: Number(job!.deferred),
    sourceTotal: Number(source!.total),
    owedRows: Number(rows!.owed),
    waitingRows: Number(rows!.waiting),
  };
}

describe('maxObjectsPerRun while owing a page', () => {
  it('owes up to the cap and defers the rest in the same write, the highest keys first, counting each once', async () => {
    const ref = await freshJob();
    await commitPage(ref, keys('a', 1000), 1500);
    expect(await counters(ref)).toEqual({ discovered: 1000, fresh: 1000, deferred: 0, sourceTotal: 1000, owedRows: 1000, waitingRows: 0 });
    await commitPage(ref, keys('b', 1000), 1500);
    expect(await counters(ref)).toEqual({ discovered: 1500, fresh: 2000, deferred: 500, sourceTotal: 1500, owedRows: 1500, waitingRows: 500 });
    const [deferredFrom] = await sql<{ lowest: string }[]>`
      select min(key) as lowest from source_objects where source_id = ${ref.sourceId} and pending_job_id is null`;
    expect(deferredFrom?.lowest).toBe('b/0500');
    // Every object of a page past the cap waits for the next run, written once: inserted deferred, never updated.
    const updated = await sql.begin(async (tx) => {
      await oweListed(tx, ref, 1, keys('c', 1000), true, 1500);
      await deferExcess(tx, ref, 1500);
      const [row] = await tx<{ n: string }[]>`select n_tup_upd as n from pg_stat_xact_user_tables where relname = 'source_objects'`;
      return Number(row!.n);
    });
    expect(updated).toBe(0);
    expect(await counters(ref)).toEqual({ discovered: 1500, fresh: 3000, deferred: 1500, sourceTotal: 1500, owedRows: 1500, waitingRows: 1500 });
  });

  it('gives no room to objects adopted for processing, counted discovered already, and never defers them', async () => {
    const ref = await freshJob();
    // Two stored objects this job adopted for processing (adoptOwedProcessing counts them discovered).
    await oweListed(sql, { ...ref, jobId: 'earlier' }, 1, keys('z', 2), true);
    await sql`update source_objects set status = 'ingested', pending_job_id = null, process_job_id = ${ref.jobId} where source_id = ${ref.sourceId}`;
    await sql`update jobs set objects_discovered = 2 where id = ${ref.jobId}`;
    await sql`update sources set total_objects_discovered = 0 where id = ${ref.sourceId}`;
    // Twelve new objects and one of the adopted ones changed, the highest key on the page, under a cap of 10.
    await commitPage(ref, [...keys('b', 12), { ...keys('z', 1)[0]!, etag: '"changed"' }], 10);
    expect(await counters(ref)).toMatchObject({ discovered: 10, fresh: 12, deferred: 4, owedRows: 9, waitingRows: 4 });
    const waiting = await sql<{ key: string }[]>`
      select key from source_objects where source_id = ${ref.sourceId} and status = 'pending' and pending_job_id is null order by key`;
    expect(waiting.map((w) => w.key)).toEqual(['b/0008', 'b/0009', 'b/0010', 'b/0011']);
  });

  it('settles exactly what two pages committing at once overshot, as concurrent shards do', async () => {
    const ref = await freshJob();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let owedFirst!: () => void;
    const firstOwed = new Promise<void>((r) => (owedFirst = r));
    // Shard one owes its page and holds its transaction open (and the job row, locked by its counters).
    const one = sql.begin(async (tx) => {
      await oweListed(tx, ref, 1, keys('a', 800), true, 1000);
      await deferExcess(tx, ref, 1000, { after: null, upTo: 'a/0799' });
      owedFirst();
      await held;
    });
    await firstOwed;
    // Shard two reads the owed count before one commits: it sees room for all 800, then waits on the job row.
    const two = sql.begin(async (tx) => {
      await oweListed(tx, ref, 1, keys('b', 800), true, 1000);
      await deferExcess(tx, ref, 1000, { after: 'a/0799', upTo: null });
    });
    await new Promise((r) => setTimeout(r, 300));
    release();
    await Promise.all([one, two]);
    expect(await counters(ref)).toEqual({ discovered: 1000, fresh: 1600, deferred: 600, sourceTotal: 1000, owedRows: 1000, waitingRows: 600 });
    // The excess is the second shard's own highest keys.
    const [deferredFrom] = await sql<{ lowest: string }[]>`
      select min(key) as lowest from source_objects where source_id = ${ref.sourceId} and pending_job_id is null`;
    expect(deferredFrom?.lowest).toBe('b/0200');
  });
});
