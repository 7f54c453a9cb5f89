import { createHash } from 'node:crypto';
import type { ISql, PendingQuery, Row } from 'postgres';
import type { Listed, ScanRef } from './scan.js';
import { lit, OBJECT_STATUS as S } from './status.js';

/**
 * A quiet page: a page of a scan that is not a full sync, all of whose
 * objects pass the filters, and whose range of the
 * checkpoint holds exactly the listed objects, with the same etags, sizes and
 * times, none owed, filtered or marked missing by this pass. The full diff
 * (oweListed, markMissing, deferExcess) would write nothing, so it is skipped
 * and the page commits in one statement: the check and the cursor's move (a
 * CursorMove, see job-counters.ts and shards.ts) together, the move made only
 * when the page is quiet. A quiet resync is mostly such pages, and each
 * statement and round trip less is a share of its time.
 *
 * Both sides reduce to one digest, computed the same way here and in
 * Postgres, so only a hash crosses the wire; any difference, even one only of
 * encoding, just takes the full diff.
 */

/**
 * CTEs that move a page's cursor (`moved`, returning a row when it moved) and
 * count the page, each write guarded by `(select ok from quiet)`.
 */
export type CursorMove = PendingQuery<Row[]>;

/**
 * The listing's side of the digest. Each field is length-prefixed or numeric,
 * so two different listings never encode to the same text.
 */
export function pageDigest(matched: readonly Listed[]): string {
  let text = '';
  for (const o of matched)
    text += `${Buffer.byteLength(o.key)}:${o.key}${Buffer.byteLength(o.etag)}:${o.etag}${o.size},${o.lastModified ? o.lastModified.getTime() : '-'};`;
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Commits the page if it is quiet. `digest` null asks only how many rows the
 * range holds: a caller whose last page's range held another count than it
 * listed (a first scan) does not hash pages that cannot match. `rows` is that
 * count, at most one more than the page: a range far larger (an emptied
 * source, a mass delete) is told apart without reading it. `moved` false on a
 * quiet page: a newer attempt has moved the cursor on.
 */
export async function commitQuietPage(
  sql: ISql,
  ref: ScanRef,
  pass: number,
  range: { from: string | null; to: string | null },
  listed: number,
  digest: string | null,
  move: CursorMove,
): Promise<{ quiet: boolean; moved: boolean; rows: number }> {
  const { from, to } = range;
  // A time finer than the millisecond a listing gives counts as a difference. The string aggregate only runs
  // with a digest to compare.
  const [row] = await sql<{ quiet: boolean; moved: number; rows: number }[]>`
    with quiet as (
      select count(*)::int as rows,
             coalesce(count(*) = ${listed}
               and not coalesce(bool_or(status in (${lit(sql, S.pending, S.filtered)}) or missing_pass = ${pass}
                 or last_modified <> date_trunc('milliseconds', last_modified)), false)
               and encode(sha256(convert_to(coalesce(string_agg(
                     octet_length(key) || ':' || key
                     || coalesce(octet_length(etag) || ':' || etag, '~')
                     || coalesce(size::text, '~') || ','
                     || coalesce(round(extract(epoch from last_modified) * 1000)::bigint::text, '-') || ';',
                     '' order by key) filter (where ${digest}::text is not null), ''), 'UTF8')), 'hex') = ${digest}, false) as ok
      from (select key, etag, size, last_modified, status, missing_pass from source_objects
            where source_id = ${ref.sourceId} and status <> ${lit(sql, S.deleted)}
              and (${from}::text is null or key > ${from}) and (${to}::text is null or key <= ${to})
            order by key limit ${listed + 1}) range
    ), ${move}
    select (select ok from quiet) as quiet, (select count(*) from moved)::int as moved, (select rows from quiet) as rows`;
  return { quiet: row!.quiet, moved: row!.moved > 0, rows: row!.rows };
}
