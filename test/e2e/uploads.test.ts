/**
 * DataInsider's file-upload syncs, each a Temporal workflow: FULL syncs replace
 * (old files to a restorable trash), INCREMENTAL ones add, abandoned ones fail
 * on a durable timer, and every uploaded file is ingested.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { authHeader, call, waitFor } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles as files } from '../support/objects.js';

describe('upload syncs', () => {
  let ls: TestLakesync;
  const bucket = unique('kb');
  let lake: string;

  const start = async (body: Record<string, unknown>) => {
    const res = await call(ls.url, 'POST', `/${bucket}/uploads`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.syncId as string;
  };
  const upload = async (syncId: string, names: string[], content = (n: string) => `content of ${n}`) => {
    const form = new FormData();
    for (const n of names) form.append('file', new Blob([content(n)], { type: 'text/plain' }), n);
    const res = await fetch(`${ls.url}/${bucket}/uploads/${syncId}/files`, { method: 'POST', body: form, headers: authHeader(ls.url) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const end = (syncId: string) => call(ls.url, 'POST', `/${bucket}/uploads/${syncId}/end`, {});
  const syncRow = async (syncId: string) =>
    (await call(ls.url, 'GET', `/${bucket}/uploads?size=100`)).body.find((s: { syncId: string }) => s.syncId === syncId);
  const ingested = (key: string) =>
    waitFor(
      `${key} ingested`,
      async () => (await call(ls.url, 'GET', `/${bucket}/objects/${encodeURIComponent(key)}/info`)).body.ingestionStatus === 'INGESTED',
      60_000,
      250,
    );
  const names = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `file-${String(from + i).padStart(3, '0')}.csv`);

  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
    lake = join((ls.lake as { dir: string }).dir, bucket);
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => ls?.stop());

  it('a FULL sync over several calls replaces the previous one, trashes the old files, and restores them', async () => {
    const first = await start({ name: 'tx full 1', path: '/data/db/transactions', syncType: 'FULL' });
    for (let call = 0; call < 4; call++) {
      const up = await upload(first, names(call * 25, call * 25 + 25));
      expect(up.status).toBe(200);
      expect(up.body).toMatchObject({ code: 0, msg: null });
      expect(up.body.files).toHaveLength(25);
    }
    expect((await end(first)).body).toEqual({ success: true });
    expect(await syncRow(first)).toMatchObject({
      syncStatus: 'Finished',
      syncType: 'FULL',
      path: 'data/db/transactions/',
      totalFiles: 100,
      numFailed: 0,
      trashed: 0,
    });
    expect(await files(join(lake, 'data/db/transactions'))).toEqual(names(0, 100));

    const second = await start({ name: 'tx full 2', path: 'data/db/transactions', syncType: 'FullSync' });
    const up = await upload(second, names(70, 130), (n) => `second version of ${n}`);
    expect(up.body.files.every((f: { syncStatus: string }) => f.syncStatus === 'Finished')).toBe(true);
    expect((await end(second)).status).toBe(200);
    expect(await syncRow(second)).toMatchObject({ syncStatus: 'Finished', totalFiles: 60, trashed: 70 });
    expect(await files(join(lake, 'data/db/transactions'))).toEqual(names(70, 130));
    expect(await files(join(lake, '.trash', second, 'data/db/transactions'))).toEqual(names(0, 70));

    const restored = await call(ls.url, 'POST', `/${bucket}/uploads/${second}/restore`, {});
    expect(restored.body).toEqual({ success: true, restored: 70 });
    expect(await files(join(lake, 'data/db/transactions'))).toEqual(names(0, 130));
    expect(await files(join(lake, '.trash', second))).toEqual([]);

    const history = await call(ls.url, 'GET', `/${bucket}/uploads/history?syncId=${first}&size=1000`);
    expect(history.body).toHaveLength(100);
    expect(history.body[0]).toMatchObject({
      syncId: first,
      fileName: 'file-000.csv',
      key: 'data/db/transactions/file-000.csv',
      syncStatus: 'Finished',
      message: '',
    });
    expect(history.body[0].endTime).toBeGreaterThanOrEqual(history.body[0].startTime);
    const page = await call(ls.url, 'GET', `/${bucket}/uploads/history?syncId=${first}&from=10&size=5`);
    expect(page.body.map((h: { fileName: string }) => h.fileName)).toEqual(names(10, 15));
    await ingested('data/db/transactions/file-129.csv');
  });

  it('an INCREMENTAL sync only adds', async () => {
    const inc = await start({ name: 'logs', path: 'logs', syncType: 'INCREMENTAL' });
    await upload(inc, ['a.log', 'b.log']);
    await end(inc);
    const more = await start({ name: 'logs 2', path: 'logs', syncType: 'IncrementalSync' });
    await upload(more, ['c.log']);
    await end(more);
    expect(await files(join(lake, 'logs'))).toEqual(['a.log', 'b.log', 'c.log']);
    expect(await syncRow(more)).toMatchObject({ syncStatus: 'Finished', trashed: 0, totalFiles: 1 });
    await ingested('logs/c.log');
  });

  it('fails an abandoned sync when its TTL runs out, and refuses uploads to ended syncs', async () => {
    const abandoned = await start({ name: 'abandoned', path: 'tmp', syncType: 'FULL', ttlSeconds: 5 });
    await upload(abandoned, ['x.csv']);
    const failed = await waitFor(
      'TTL',
      async () => {
        const row = await syncRow(abandoned);
        return row.syncStatus === 'Failed' && row;
      },
      30_000,
      250,
    );
    expect(failed.message).toMatch(/not ended within its TTL of 5 s/);
    expect(failed.endTime).toBeGreaterThan(0);
    const late = await upload(abandoned, ['y.csv']);
    expect(late.status).toBe(409);
    expect(late.body.details[0]).toMatchObject({ field: 'syncId', problem: 'is Failed' });
    expect((await end(abandoned)).status).toBe(409);

    const done = await start({ name: 'done', path: 'done', syncType: 'INCREMENTAL' });
    await upload(done, ['z.csv']);
    await end(done);
    expect((await upload(done, ['again.csv'])).status).toBe(409);
    // Ending twice is harmless.
    expect((await end(done)).body).toEqual({ success: true });
  });

  it('refuses bad input and ingests the files it took', async () => {
    expect((await call(ls.url, 'POST', `/${bucket}/uploads`, { name: 'x', path: '../up', syncType: 'FULL' })).body.details[0].field).toBe('path');
    expect((await call(ls.url, 'POST', `/${bucket}/uploads`, { name: 'x', path: 'p', syncType: 'SOMETIMES' })).body.details[0]).toMatchObject({
      field: 'syncType',
      problem: 'must be FULL or INCREMENTAL',
    });
    expect((await call(ls.url, 'POST', `/${bucket}/uploads`, { name: 'x', path: 'p', syncType: 'FULL', ttlSeconds: 1 })).body.details[0].field).toBe(
      'ttlSeconds',
    );
    const syncId = await start({ name: 'names', path: 'names', syncType: 'INCREMENTAL' });
    const up = await upload(syncId, ['ok.txt', '../../escape.txt', '..']);
    expect(up.body.files.map((f: { key: string; syncStatus: string }) => [f.key, f.syncStatus])).toEqual([
      ['names/ok.txt', 'Finished'],
      ['names/escape.txt', 'Finished'],
      ['names/', 'Failed'],
    ]);
    expect(up.body.files[2].message).toBe('the file has no name');
    expect(await syncRow(syncId)).toMatchObject({ totalFiles: 3, numFailed: 1 });
    expect((await call(ls.url, 'GET', `/${bucket}/uploads?size=5000`)).status).toBe(400);

    for (const key of ['names/ok.txt', 'names/escape.txt']) await ingested(key);
    expect(await files(join(lake, 'names'))).toEqual(['escape.txt', 'ok.txt']);
  });
});
