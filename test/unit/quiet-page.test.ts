/**
 * A scan page's quiet check (activities/quiet-pages.ts over catalog
 * commitQuietPage) on the real Postgres: it commits a page as unchanged only
 * when the full diff (oweListed, markMissing) would write nothing, which each
 * case checks by running the full diff after it and reading the rows'
 * versions; every difference the diff acts on makes it say "changed", and
 * then it moves no cursor and counts nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Sql } from 'postgres';
import { markMissing, oweListed, type Listed, type ScanRef } from '../../catalog/scan.js';
import { scanCursorMove } from '../../catalog/job-counters.js';
import { shardCursorMove } from '../../catalog/shards.js';
import { QuietPages } from '../../activities/quiet-pages.js';
import { withCatalogDatabase } from '../support/migrated-db.js';
import { unique } from '../support/lakesync.js';

let sql: Sql;
const PASS = 7;
withCatalogDatabase('quiet_page', (db) => void (sql = db.$client));

/** A source whose catalog holds `page` as ingested by an earlier job, and a job of this scan. */
async function catalogued(page: Listed[]): Promise<ScanRef> {
  const sourceId = unique('src');
  const jobId = unique('job');
  await sql`insert into sources (id, bucket_id, name, kind, workflow_id, connection) values (${sourceId}, 'b1', ${sourceId}, 's3', ${`c-${sourceId}`}, ${JSON.stringify({})})`;
  for (const id of ['job-before', jobId])
    await sql`insert into jobs (id, bucket_id, source_id, kind, trigger) values (${id === jobId ? jobId : `${id}-${sourceId}`}, 'b1', ${sourceId}, 'discovery', 'manual')`;
  await oweListed(sql, { jobId: `job-before-${sourceId}`, sourceId, fullSync: false }, PASS - 1, page, true);
  await sql`update source_objects set status = 'ingested', pending_job_id = null where source_id = ${sourceId}`;
  return { jobId, sourceId, fullSync: false };
}

/**
 * Whether a scan commits the page as unchanged (a QuietPages of its own), moving the job's cursor from where it
 * stands: true when committed, false when changed (a superseded page would fail the test: the cursor is always its).
 */
async function pageUnchanged(
  db: Sql,
  ref: ScanRef,
  pass: number,
  range: { from: string | null; to: string | null },
  matched: Listed[],
  unmatched: Listed[],
): Promise<boolean> {
  const [job] = await db<{ scan_cursor: string | null }[]>`select scan_cursor from jobs where id = ${ref.jobId}`;
  const move = scanCursorMove(db, ref.jobId, { pass, from: job!.scan_cursor, to: range.to, listed: matched.length });
  const outcome = await new QuietPages(db).commit(ref, pass, range, matched, unmatched, move);
  if (outcome === 'superseded') throw new Error('the cursor moved from where the job row held it');
  return outcome === 'committed';
}

const versions = async (sourceId: string) =>
  new Map((await sql<{ key: string; xmin: string }[]>`select key, xmin::text from source_objects where source_id = ${sourceId}`).map((r) => [r.key, r.xmin]));

/** What the full diff of the page changed: the keys whose rows it wrote. */
async function fullDiffWrites(ref: ScanRef, range: { from: string | null; to: string | null }, page: Listed[], onUpdate = true): Promise<string[]> {
  const before = await versions(ref.sourceId);
  await sql.begin(async (tx) => {
    await markMissing(
      tx,
      ref.sourceId,
      PASS,
      range.from,
      range.to,
      page.map((o) => o.key),
    );
    await oweListed(tx, ref, PASS, page, onUpdate);
  });
  const after = await versions(ref.sourceId);
  return [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
}

const at = new Date('2026-11-01T10:20:30.123Z');
// Byte order, as S3 lists and the catalog sorts (collate "C"); keys with separators, multi-byte and astral characters.
const page: Listed[] = [
  { key: 'A:1', etag: '"e1"', size: 1, lastModified: at },
  { key: 'a', etag: '1:"e2"', size: 22, lastModified: null },
  { key: 'a:1', etag: '"e3"', size: 0 },
  { key: 'dir/ü/é.txt', etag: '"e4"', size: 4096, lastModified: at },
  { key: 'dir/😀', etag: '"e5"', size: 5, lastModified: at },
];
const whole = { from: null, to: null };

describe('a scan page with nothing to write', () => {
  it('is unchanged when the catalog holds exactly the listing, and the full diff then writes nothing', async () => {
    const ref = await catalogued(page);
    expect(await pageUnchanged(sql, ref, PASS, whole, page, [])).toBe(true);
    expect(await pageUnchanged(sql, ref, PASS, { from: 'a', to: 'dir/ü/é.txt' }, page.slice(2, 4), [])).toBe(true);
    expect(await fullDiffWrites(ref, whole, page)).toEqual([]);
  });

  it('is unchanged for an empty page over an empty range, and changed for one over catalogued keys', async () => {
    const ref = await catalogued(page);
    expect(await pageUnchanged(sql, ref, PASS, { from: 'dir/😀', to: null }, [], [])).toBe(true);
    expect(await pageUnchanged(sql, ref, PASS, { from: 'a:1', to: null }, [], [])).toBe(false);
  });

  const changes: [string, (p: Listed[]) => Listed[]][] = [
    ['an etag changed', (p) => p.map((o, i) => (i === 1 ? { ...o, etag: '"other"' } : o))],
    ['a size changed', (p) => p.map((o, i) => (i === 3 ? { ...o, size: 4097 } : o))],
    ['a time changed', (p) => p.map((o, i) => (i === 0 ? { ...o, lastModified: new Date(at.getTime() + 1) } : o))],
    ['a time appeared', (p) => p.map((o, i) => (i === 1 ? { ...o, lastModified: at } : o))],
    ['a new key', (p) => [...p.slice(0, 2), { key: 'b', etag: '"n"', size: 1 }, ...p.slice(2)]],
    ['a key gone', (p) => p.filter((_, i) => i !== 2)],
  ];
  for (const [what, change] of changes)
    it(`is changed when ${what}, and the full diff writes`, async () => {
      const ref = await catalogued(page);
      const listed = change(page);
      expect(await pageUnchanged(sql, ref, PASS, whole, listed, [])).toBe(false);
      expect((await fullDiffWrites(ref, whole, listed)).length).toBeGreaterThan(0);
    });

  it('tells apart listings whose keys and etags only join to the same text', async () => {
    // Without the length prefixes both would read x:1:"e" with size 1.
    const ref = await catalogued([{ key: 'x:1', etag: '"e"', size: 1 }]);
    const shifted = [{ key: 'x', etag: '1:"e"', size: 1 }];
    expect(await pageUnchanged(sql, ref, PASS, whole, shifted, [])).toBe(false);
    expect(await fullDiffWrites(ref, whole, shifted)).toEqual(['x:1', 'x']);
  });

  it('is changed when a listed object is owed, filtered, deleted or marked missing by this pass', async () => {
    for (const [column, value] of [
      ['status', 'pending'],
      ['status', 'filtered'],
      ['status', 'deleted'],
      ['missing_pass', PASS],
    ] as const) {
      const ref = await catalogued(page);
      await sql`update source_objects set ${sql(column)} = ${value} where source_id = ${ref.sourceId} and key = 'a'`;
      expect(await pageUnchanged(sql, ref, PASS, whole, page, []), `${column} = ${value}`).toBe(false);
      expect(await fullDiffWrites(ref, whole, page), `${column} = ${value}`).toContain('a');
    }
  });

  it('is unchanged beside a deleted object outside the listing, and an earlier pass its mark', async () => {
    const ref = await catalogued(page);
    await oweListed(sql, { ...ref, jobId: `job-before-${ref.sourceId}` }, PASS - 1, [{ key: 'c', etag: '"gone"', size: 1 }], true);
    await sql`update source_objects set status = 'deleted' where source_id = ${ref.sourceId} and key = 'c'`;
    await sql`update source_objects set missing_pass = ${PASS - 1} where source_id = ${ref.sourceId} and key = 'a'`;
    expect(await pageUnchanged(sql, ref, PASS, whole, page, [])).toBe(true);
    expect(await fullDiffWrites(ref, whole, page)).toEqual([]);
  });

  it('is unchanged for a dead object and a size past 32 bits, as the full diff writes neither', async () => {
    const big = [...page, { key: 'e', etag: '"big"', size: 5 * 2 ** 40, lastModified: at }];
    const ref = await catalogued(big);
    await sql`update source_objects set status = 'dead' where source_id = ${ref.sourceId} and key = 'a'`;
    expect(await pageUnchanged(sql, ref, PASS, whole, big, [])).toBe(true);
    expect(await fullDiffWrites(ref, whole, big)).toEqual([]);
  });

  it('is changed for an etag changed without onUpdate (the full diff records the etag, owing nothing)', async () => {
    const ref = await catalogued(page);
    const listed = page.map((o, i) => (i === 0 ? { ...o, etag: '"new"' } : o));
    expect(await pageUnchanged(sql, ref, PASS, whole, listed, [])).toBe(false);
    expect(await fullDiffWrites(ref, whole, listed, false)).toEqual(['A:1']);
  });

  it('is changed when the catalog holds a time finer than the millisecond a listing gives', async () => {
    const ref = await catalogued(page);
    await sql`update source_objects set last_modified = last_modified + interval '0.4 milliseconds' where source_id = ${ref.sourceId} and key = 'A:1'`;
    expect(await pageUnchanged(sql, ref, PASS, whole, page, [])).toBe(false);
    expect(await fullDiffWrites(ref, whole, page)).toEqual(['A:1']);
  });

  it('is changed by an unlisted object in its range, owed or not, and by a range far larger than the page', async () => {
    const ref = await catalogued([...page, { key: 'b', etag: '"owed"', size: 1 }]);
    await sql`update source_objects set status = 'pending' where source_id = ${ref.sourceId} and key = 'b'`;
    expect(await pageUnchanged(sql, ref, PASS, whole, page, [])).toBe(false);
    // The page's own keys are unchanged; only the rest of its range tells.
    expect(await pageUnchanged(sql, ref, PASS, { from: null, to: 'a:1' }, page.slice(0, 3), [])).toBe(true);
    expect(await pageUnchanged(sql, ref, PASS, { from: null, to: null }, page.slice(0, 1), [])).toBe(false);
    expect(await fullDiffWrites(ref, whole, page)).toEqual(['b']);
  });

  it('takes a page in another order than the catalog for changed: the full diff, which writes nothing', async () => {
    // U+FF01 sorts before an astral character in UTF-8 bytes, after it in UTF-16 code units.
    const bytes = [
      { key: '\uFF01', etag: '"x"', size: 1, lastModified: at },
      { key: '😀', etag: '"y"', size: 1, lastModified: at },
    ];
    const ref = await catalogued(bytes);
    expect(await pageUnchanged(sql, ref, PASS, whole, bytes, [])).toBe(true);
    expect(await pageUnchanged(sql, ref, PASS, whole, [bytes[1]!, bytes[0]!], [])).toBe(false);
    expect(await fullDiffWrites(ref, whole, [bytes[1]!, bytes[0]!])).toEqual([]);
  });

  it('leaves full syncs and pages with objects outside the filters to the full diff', async () => {
    const ref = await catalogued(page);
    expect(await pageUnchanged(sql, { ...ref, fullSync: true }, PASS, whole, page, [])).toBe(false);
    expect(await pageUnchanged(sql, ref, PASS, whole, page.slice(1), page.slice(0, 1))).toBe(false);
  });
});

describe('a quiet page committed in one statement', () => {
  const job = async (jobId: string) =>
    (
      await sql<{ scan_cursor: string | null; scan_pass: number | null; objects_listed: number; pages_listed: number }[]>`
      select scan_cursor, scan_pass, objects_listed::int, pages_listed::int from jobs where id = ${jobId}`
    )[0]!;

  it("moves a single scan's cursor and counts the page only when the page is quiet, and says when a newer attempt moved it", async () => {
    const ref = await catalogued(page);
    const pages = new QuietPages(sql);
    const first = { from: null, to: 'a:1' };
    const move = scanCursorMove(sql, ref.jobId, { pass: PASS, from: null, to: 'a:1', listed: 3 });
    // A changed page moves nothing: the caller's full diff moves the cursor with the writes.
    const changed = page.slice(0, 3).map((o, i) => (i === 0 ? { ...o, size: 9 } : o));
    expect(await pages.commit(ref, PASS, first, changed, [], move)).toBe('changed');
    expect(await job(ref.jobId)).toEqual({ scan_cursor: null, scan_pass: null, objects_listed: 0, pages_listed: 0 });
    expect(await pages.commit(ref, PASS, first, page.slice(0, 3), [], scanCursorMove(sql, ref.jobId, { pass: PASS, from: null, to: 'a:1', listed: 3 }))).toBe(
      'committed',
    );
    expect(await job(ref.jobId)).toEqual({ scan_cursor: 'a:1', scan_pass: PASS, objects_listed: 3, pages_listed: 1 });
    // The same page again from where it began: another attempt's, which the cursor has left behind.
    expect(await pages.commit(ref, PASS, first, page.slice(0, 3), [], scanCursorMove(sql, ref.jobId, { pass: PASS, from: null, to: 'a:1', listed: 3 }))).toBe(
      'superseded',
    );
    expect(await job(ref.jobId)).toEqual({ scan_cursor: 'a:1', scan_pass: PASS, objects_listed: 3, pages_listed: 1 });
  });

  it("moves a shard's cursor and counts the page on the job, once", async () => {
    const ref = await catalogued(page);
    await sql`update jobs set scan_pass = ${PASS} where id = ${ref.jobId}`;
    await sql`insert into scan_shards (job_id, shard, after_key, up_to) values (${ref.jobId}, 1, 'a', null)`;
    const shardMove = () => shardCursorMove(sql, ref.jobId, 1, { from: null, to: null, listed: 3, last: true });
    const shard = async () =>
      (
        await sql<{ cursor: string | null; listed: number; pages: number; finished: boolean }[]>`
        select cursor, listed::int, pages::int, finished_at is not null as finished from scan_shards where job_id = ${ref.jobId} and shard = 1`
      )[0]!;
    const range = { from: 'a', to: null };
    expect(await new QuietPages(sql).commit(ref, PASS, range, page.slice(3), [], shardMove())).toBe('changed');
    expect(await shard()).toEqual({ cursor: null, listed: 0, pages: 0, finished: false });
    expect(await new QuietPages(sql).commit(ref, PASS, range, page.slice(2), [], shardMove())).toBe('committed');
    expect(await shard()).toEqual({ cursor: null, listed: 3, pages: 1, finished: true });
    expect(await new QuietPages(sql).commit(ref, PASS, range, page.slice(2), [], shardMove())).toBe('superseded');
    expect(await shard()).toEqual({ cursor: null, listed: 3, pages: 1, finished: true });
    expect(await job(ref.jobId)).toMatchObject({ objects_listed: 3, pages_listed: 1 });
  });

  it('hashes no page after one whose range held another count than it listed, and hashes again after one that matched', async () => {
    const ref = await catalogued(page);
    const pages = new QuietPages(sql);
    const commit = async (range: { from: string | null; to: string | null }, listed: Listed[]) => {
      const [j] = await sql<{ scan_cursor: string | null }[]>`select scan_cursor from jobs where id = ${ref.jobId}`;
      return pages.commit(
        ref,
        PASS,
        range,
        listed,
        [],
        scanCursorMove(sql, ref.jobId, { pass: PASS, from: j!.scan_cursor, to: range.to, listed: listed.length }),
      );
    };
    // One key fewer than its range holds (a key gone): changed, and the next page, quiet as it is, is not hashed.
    expect(await commit({ from: null, to: 'a' }, page.slice(0, 1))).toBe('changed');
    expect(await commit({ from: null, to: 'a' }, page.slice(0, 2))).toBe('changed');
    // That page's range held what it listed: the next is hashed, and commits.
    expect(await commit({ from: null, to: 'a:1' }, page.slice(0, 3))).toBe('committed');
  });
});
