/**
 * A dry run's page preview (catalog previewPage) on the real Postgres: what it
 * counts new, changed, gone and drifted for a listing against a catalog that
 * holds every status, inside the page's key range and beside it.
 */
import { describe, expect, it } from 'vitest';
import type { Sql } from 'postgres';
import { oweListed, previewPage, type Listed, type ScanRef } from '../../catalog/scan.js';
import { withCatalogDatabase } from '../support/migrated-db.js';
import { unique } from '../support/lakesync.js';

let sql: Sql;
withCatalogDatabase('preview_page', (db) => void (sql = db.$client));

const o = (key: string, etag = `"${key}"`, size = 1): Listed => ({ key, etag, size });

/** A source whose catalog holds these objects, each with the status given; the job of the dry run. */
async function catalogued(rows: [Listed, string][]): Promise<ScanRef> {
  const sourceId = unique('src');
  await sql`insert into sources (id, bucket_id, name, kind, workflow_id, connection) values (${sourceId}, 'b1', ${sourceId}, 's3', ${`c-${sourceId}`}, ${JSON.stringify({})})`;
  for (const id of ['before', 'dry'])
    await sql`insert into jobs (id, bucket_id, source_id, kind, trigger) values (${`${id}-${sourceId}`}, 'b1', ${sourceId}, 'discovery', 'manual')`;
  await oweListed(
    sql,
    { jobId: `before-${sourceId}`, sourceId, fullSync: false },
    1,
    rows.map(([l]) => l),
    true,
  );
  for (const [l, status] of rows)
    await sql`update source_objects set status = ${status}, pending_job_id = null where source_id = ${sourceId} and key = ${l.key}`;
  return { jobId: `dry-${sourceId}`, sourceId, fullSync: false };
}

// The catalog: one object of every status inside the page's range (b..m], and objects beside it.
const catalog: [Listed, string][] = [
  [o('a-before'), 'ingested'],
  [o('b-same'), 'ingested'],
  [o('c-etag'), 'ingested'],
  [o('d-size'), 'ingested'],
  [o('e-owed'), 'pending'],
  [o('f-dead'), 'dead'],
  [o('g-deleted'), 'deleted'],
  [o('h-filtered'), 'filtered'],
  [o('i-gone'), 'ingested'],
  [o('j-gone-owed'), 'pending'],
  [o('k-gone-deleted'), 'deleted'],
  [o('l-drifted'), 'ingested'],
  [o('m-outside-owed'), 'pending'],
  [o('z-after'), 'ingested'],
];
// The listing of the range (b-same, m-outside-owed]: in the filters, and outside them.
const matched = [o('c-etag', '"new"'), o('d-size', '"d-size"', 9), o('e-owed'), o('f-dead'), o('g-deleted'), o('h-filtered'), o('i-new')];
const unmatched = [o('l-drifted'), o('m-outside-owed')];

describe('a dry run page preview', () => {
  it('counts new, changed, gone and drifted objects within the page range only', async () => {
    const ref = await catalogued(catalog);
    // new: i-new, and g-deleted, h-filtered back in the filters; changed: c-etag, d-size, e-owed (owed still);
    // gone: i-gone, j-gone-owed (k is deleted already; b-same is not in the range); drifted: l-drifted (stored).
    expect(await previewPage(sql, ref, matched, unmatched, 'b-same', 'm-outside-owed', true, true)).toEqual({ fresh: 3, changed: 3, gone: 2, drifted: 1 });
  });

  it('leaves a changed stored object alone without onUpdate, drifted ones without onFilterDrift, and owes all on a full sync', async () => {
    const ref = await catalogued(catalog);
    expect(await previewPage(sql, ref, matched, unmatched, 'b-same', 'm-outside-owed', false, false)).toEqual({ fresh: 3, changed: 1, gone: 2, drifted: 0 });
    // A full sync owes every listed object already catalogued (f-dead too).
    expect(await previewPage(sql, { ...ref, fullSync: true }, matched, unmatched, 'b-same', 'm-outside-owed', true, true)).toEqual({
      fresh: 3,
      changed: 4,
      gone: 2,
      drifted: 1,
    });
  });

  it('reads an open-ended range at either end, and an empty catalog', async () => {
    const ref = await catalogued(catalog);
    // The first page: everything up to and including d-size; a-before and b-same listed unchanged.
    expect(await previewPage(sql, ref, [o('a-before'), o('b-same'), o('c-etag')], [], null, 'd-size', true, true)).toEqual({
      fresh: 0,
      changed: 0,
      gone: 1,
      drifted: 0,
    });
    // The last page: z-after gone, a new key after it.
    expect(await previewPage(sql, ref, [o('zz-new')], [], 'm-outside-owed', null, true, true)).toEqual({ fresh: 1, changed: 0, gone: 1, drifted: 0 });
    const empty = await catalogued([]);
    expect(await previewPage(sql, empty, [o('a'), o('b')], [o('c')], null, null, true, true)).toEqual({ fresh: 2, changed: 0, gone: 0, drifted: 0 });
  });
});
