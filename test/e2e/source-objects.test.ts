/**
 * GET /:bucket/sources/:sourceId/objects: a source's catalogued objects with
 * their sourceObjectId, paged in key order and filtered by status and key
 * prefix; and a targeted ingestion driven only by what the API lists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { call, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';

interface Listed {
  sourceObjectId: string;
  key: string;
  etag: string;
  size: number;
  status: string;
  attempts: number;
  lastError: string | null;
  lakeKey: string | null;
  lastJobId: string | null;
}

const OWED = 'SOURCE_OBJECT_STATUS_OWED';
const INGESTED = 'SOURCE_OBJECT_STATUS_INGESTED';
const DEAD = 'SOURCE_OBJECT_STATUS_DEAD_LETTERED';
const DELETED = 'SOURCE_OBJECT_STATUS_DELETED';
const FILTERED = 'SOURCE_OBJECT_STATUS_FILTERED';

describe('listing a source’s objects', () => {
  let ls: TestLakesync;
  let lake: string;
  let dir: string;
  let sourceId: string;
  const bucket = unique('objs');
  const files: Record<string, string> = {
    'a/1.txt': 'one',
    'a/2.txt': 'two',
    'a/3.txt': 'three',
    'ab.txt': 'ab',
    'b/1.txt': 'b1',
    'blocked/x.txt': 'x',
    'blocked/y.txt': 'y',
    'gone.txt': 'gone',
    'noise.log': 'filtered out',
  };

  const list = (query = '', token?: string) =>
    call(ls.url, 'GET', `/${bucket}/sources/${sourceId}/objects${query}`, undefined, token ? { authorization: `Bearer ${token}` } : {});
  /** Every page of a listing, following nextPageToken. */
  const all = async (params: Record<string, string>) => {
    const pages: { objects: Listed[]; totalCount: number }[] = [];
    let token = '';
    do {
      const res = await list(`?${new URLSearchParams({ ...params, ...(token ? { page_token: token } : {}) })}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      pages.push(res.body);
      token = res.body.nextPageToken;
    } while (token);
    return pages;
  };
  const keys = (objects: Listed[]) => objects.map((o) => o.key);
  const discover = async () => {
    const res = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, {});
    expect(res.status).toBe(200);
    return waitForJob(ls.url, bucket, sourceId, res.body.jobId);
  };

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    lake = (ls.lake as { dir: string }).dir;
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    dir = await mkdtemp(join(tmpdir(), 'lakesync-objs-'));
    for (const [key, body] of Object.entries(files)) {
      await mkdir(dirname(join(dir, key)), { recursive: true });
      await writeFile(join(dir, key), body);
    }
    // A file where the lake needs a folder: blocked/* are dead-lettered on their first attempt.
    await mkdir(join(lake, bucket, 'so'), { recursive: true });
    await writeFile(join(lake, bucket, 'so', 'blocked'), 'in the way');
    const created = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'objs',
      kind: 'filesystem',
      filesystem: { path: dir },
      targetPrefix: 'so/',
      syncIntervalSeconds: 3600,
      fileFilters: { excludePatterns: ['*.log'] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    sourceId = created.body.sourceId;
    expect((await discover()).job).toMatchObject({ objectsDiscovered: 8, objectsProcessed: 6, objectsFailed: 2 });
    // Gone at the source: deleted by the next complete listing.
    await rm(join(dir, 'gone.txt'));
    expect((await discover()).job).toMatchObject({ objectsDeleted: 1 });
    // Two new objects and room for one in a run: the other stays owed.
    expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${sourceId}`, { maxObjectsPerRun: 1 })).status).toBe(200);
    await mkdir(join(dir, 'c'));
    await writeFile(join(dir, 'c', '1.txt'), 'c1');
    await writeFile(join(dir, 'c', '2.txt'), 'c2');
    expect((await discover()).job).toMatchObject({ objectsProcessed: 1, objectsDeferred: 1 });
  }, 300_000);

  afterAll(async () => {
    await ls?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists every object once, in key order, across pages, with its sourceObjectId and state', async () => {
    const pages = await all({ page_size: '3' });
    expect(pages.map((p) => p.objects.length)).toEqual([3, 3, 3, 2]);
    const objects = pages.flatMap((p) => p.objects);
    expect(keys(objects)).toEqual([
      'a/1.txt',
      'a/2.txt',
      'a/3.txt',
      'ab.txt',
      'b/1.txt',
      'blocked/x.txt',
      'blocked/y.txt',
      'c/1.txt',
      'c/2.txt',
      'gone.txt',
      'noise.log',
    ]);
    expect(pages.every((p) => p.totalCount === 11)).toBe(true);
    expect(new Set(objects.map((o) => o.sourceObjectId)).size).toBe(11);
    const byKey = Object.fromEntries(objects.map((o) => [o.key, o]));
    expect(byKey['a/2.txt']).toMatchObject({ status: INGESTED, size: 3, attempts: 1, lastError: null, lakeKey: 'so/a/2.txt' });
    expect(byKey['a/2.txt']!.sourceObjectId).toMatch(/^sobj_/);
    expect(byKey['a/2.txt']!.etag).not.toBe('');
    expect(byKey['blocked/x.txt']).toMatchObject({ status: DEAD, attempts: 1 });
    expect(byKey['blocked/x.txt']!.lastError).toContain('needs a folder');
    expect(byKey['gone.txt']).toMatchObject({ status: DELETED });
    expect(byKey['noise.log']).toMatchObject({ status: FILTERED, lakeKey: null });
    expect([byKey['c/1.txt']!.status, byKey['c/2.txt']!.status].sort()).toEqual([INGESTED, OWED]);
    // One page holding everything says so.
    const whole = await list('?page_size=1000');
    expect(whole.body).toMatchObject({ nextPageToken: '', totalCount: 11 });
    expect(whole.body.objects).toEqual(objects);
  });

  it('filters by each status', async () => {
    const by = async (status: string) => {
      const pages = await all({ status, page_size: '1' });
      expect(pages.every((p) => p.totalCount === pages.length)).toBe(true);
      const objects = pages.flatMap((p) => p.objects);
      expect(
        objects.every((o) => o.status === status),
        status,
      ).toBe(true);
      return keys(objects);
    };
    expect(await by(DEAD)).toEqual(['blocked/x.txt', 'blocked/y.txt']);
    expect(await by(DELETED)).toEqual(['gone.txt']);
    expect(await by(FILTERED)).toEqual(['noise.log']);
    const owed = await by(OWED);
    expect(owed).toHaveLength(1);
    expect(await by(INGESTED)).toEqual(['a/1.txt', 'a/2.txt', 'a/3.txt', 'ab.txt', 'b/1.txt', ...['c/1.txt', 'c/2.txt'].filter((k) => k !== owed[0])]);
  });

  it('filters by key prefix, alone and with a status', async () => {
    const prefixed = await all({ prefix: 'a/', page_size: '2' });
    expect(keys(prefixed.flatMap((p) => p.objects))).toEqual(['a/1.txt', 'a/2.txt', 'a/3.txt']);
    expect(prefixed.map((p) => p.totalCount)).toEqual([3, 3]);
    expect(keys((await list('?prefix=a')).body.objects)).toEqual(['a/1.txt', 'a/2.txt', 'a/3.txt', 'ab.txt']);
    expect(keys((await list(`?prefix=b&status=${DEAD}`)).body.objects)).toEqual(['blocked/x.txt', 'blocked/y.txt']);
    expect((await list('?prefix=zzz')).body).toEqual({ objects: [], nextPageToken: '', totalCount: 0 });
    // A prefix ending in the last code point still matches exactly.
    expect((await list(`?prefix=${encodeURIComponent('a\u{10FFFF}')}`)).body.objects).toEqual([]);
  });

  it('refuses a page token of another listing', async () => {
    const first = await list('?page_size=1');
    const res = await list(`?page_size=1&status=${INGESTED}&page_token=${encodeURIComponent(first.body.nextPageToken)}`);
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: 'page_token', problem: 'is not a valid page token' }]);
  });

  it('refuses bad query parameters with 400 naming the field', async () => {
    const refused = async (query: string, field: string) => {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expect(res.body.code, query).toBe('INVALID_ARGUMENT');
      expect(
        res.body.details.map((d: { field: string }) => d.field),
        query,
      ).toEqual([field]);
    };
    await refused('?page_size=-1', 'page_size');
    await refused('?page_size=1001', 'page_size');
    await refused('?page_size=ten', 'page_size');
    await refused('?status=owed', 'status');
    await refused('?status=dead', 'status');
    await refused(`?status=${OWED}&status=${DEAD}`, 'status');
    await refused(`?prefix=${'p'.repeat(1025)}`, 'prefix');
    await refused('?page_token=forged', 'page_token');
    await refused('?cursor=x', 'cursor');
  });

  it('refuses NUL and control characters in the query', async () => {
    for (const [query, field] of [
      ['?prefix=a%00b', 'prefix'],
      ['?prefix=%1B%5B2J', 'prefix'],
      ['?prefix=a%0Ab', 'prefix'],
      [`?status=${OWED}%00`, 'status'],
      ['?page_token=a%00b', 'page_token'],
    ] as const) {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expect(res.body.details[0].field, query).toBe(field);
      // The refusal never echoes the control character back.
      expect(JSON.stringify(res.body), query).not.toMatch(/\\u0000|\\u001b|\\n/);
    }
  });

  it("answers another organisation's source exactly as a source that does not exist", async () => {
    const other = await ls.token({ org: unique('other-org') });
    const theirs = await list('', other);
    expect(theirs.status).toBe(404);
    const none = await call(ls.url, 'GET', `/${bucket}/sources/src_nope/objects`, undefined, { authorization: `Bearer ${other}` });
    expect(theirs.body).toEqual(none.body);
    const own = await call(ls.url, 'GET', `/${bucket}/sources/src_nope/objects`);
    expect(own.status).toBe(404);
    expect(own.body).toMatchObject({ code: 'NOT_FOUND', message: 'source src_nope not found' });
  });

  it('answers 404 naming a sourceObjectId the source does not hold', async () => {
    const res = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { sourceObjectId: 'sobj_nope' });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ code: 'NOT_FOUND', message: 'source object sobj_nope not found', details: [] });
    // Another source's object is not this source's.
    const empty = await mkdtemp(join(tmpdir(), 'lakesync-objs-other-'));
    const other = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: 'other',
      kind: 'filesystem',
      filesystem: { path: empty },
      syncIntervalSeconds: 3600,
    });
    expect(other.status).toBe(201);
    const theirs = (await list()).body.objects[0].sourceObjectId as string;
    const crossed = await call(ls.url, 'POST', `/${bucket}/sources/${other.body.sourceId}/ingest`, { sourceObjectId: theirs });
    expect(crossed.status).toBe(404);
    expect(crossed.body.message).toBe(`source object ${theirs} not found`);
    await rm(empty, { recursive: true, force: true });
  });

  it('ingests a dead letter found by the listing, by its sourceObjectId, once its cause is fixed', async () => {
    const dead = await list(`?status=${DEAD}&prefix=blocked/&page_size=1`);
    expect(dead.body.totalCount).toBe(2);
    const [target] = dead.body.objects as Listed[];
    expect(target).toMatchObject({ key: 'blocked/x.txt', status: DEAD });

    await rm(join(lake, bucket, 'so', 'blocked'));
    const started = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/ingest`, { sourceObjectId: target!.sourceObjectId });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ accepted: true, dispatched: 1 });
    const done = await waitForJob(ls.url, bucket, sourceId, started.body.jobId);
    expect(done.job).toMatchObject({ sourceObjectId: target!.sourceObjectId, objectsProcessed: 1, objectsFailed: 0 });

    const now = (await list('?prefix=blocked/')).body.objects as Listed[];
    expect(now.map((o) => [o.key, o.status])).toEqual([
      ['blocked/x.txt', INGESTED],
      ['blocked/y.txt', DEAD],
    ]);
    expect(now[0]).toMatchObject({ sourceObjectId: target!.sourceObjectId, lakeKey: 'so/blocked/x.txt', lastJobId: started.body.jobId });
    expect(await readFile(join(lake, bucket, 'so', 'blocked', 'x.txt'), 'utf8')).toBe('x');
    // ObjectInfo names the same catalog row.
    const info = await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent('so/blocked/x.txt')}/info`);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ sourceObjectId: target!.sourceObjectId, ingestionStatus: 'INGESTED' });
  });
});
