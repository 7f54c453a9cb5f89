/** Deleting a source keeps its lake objects, or with purge=true removes them durably — and only them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles, sha256, tree, writeAll } from '../support/objects.js';

describe('deleting a source', () => {
  let ls: TestLakesync;
  const dirs: string[] = [];
  beforeAll(async () => {
    ls = await startTestLakesync({ lake: 'filesystem' });
  });
  afterAll(async () => {
    await ls?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('purges only its own objects from the lake when asked, and keeps them otherwise', async () => {
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const addSource = async (name: string, prefix: string, count: number, extra: Record<string, unknown> = {}) => {
      const dir = await mkdtemp(join(tmpdir(), 'lakesync-del-'));
      dirs.push(dir);
      await writeAll(dir, new Map(Array.from({ length: count }, (_, i) => [`f-${i}.txt`, Buffer.from(`${name} ${i}`)])));
      const src = await call(ls.url, 'POST', `/${bucket}/sources`, { name, kind: 'filesystem', filesystem: { path: dir }, targetPrefix: prefix, ...extra });
      const run = await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {});
      expect((await waitForJob(ls.url, bucket, src.body.sourceId, run.body.jobId)).job.objectsProcessed).toBe(
        Math.min(count, Number(extra.maxObjectsPerRun ?? count)),
      );
      return src.body.sourceId as string;
    };
    const a = await addSource('a', 'a/', 1200);
    const b = await addSource('b', 'b/', 7);
    const lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
    expect(await listFiles(lakeRoot)).toHaveLength(1207);

    expect((await call(ls.url, 'DELETE', `/${bucket}/sources/${a}?purge=maybe`)).status).toBe(400);
    const purged = await call(ls.url, 'DELETE', `/${bucket}/sources/${a}?purge=true`);
    expect(purged.status).toBe(202);
    expect(purged.body).toMatchObject({ sourceId: a, purge: { objects: 1200, workflowId: `lakesync-purge-${a}` } });
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${a}`)).status).toBe(404);
    await waitFor('the purge to finish', async () => (await listFiles(join(lakeRoot, 'a'))).length === 0);
    expect(await listFiles(lakeRoot)).toEqual(Array.from({ length: 7 }, (_, i) => `b/f-${i}.txt`).sort());
    const handle = ls.runtime.temporal.workflow.getHandle(purged.body.purge.workflowId);
    expect(await handle.result()).toEqual({ removed: 1200 });

    expect((await call(ls.url, 'DELETE', `/${bucket}/sources/${b}`)).status).toBe(204);
    expect(await listFiles(lakeRoot)).toHaveLength(7);

    // Objects still owed a copy (deferred by maxObjectsPerRun here) are purged by the key they would land at.
    const c = await addSource('c', 'c/', 5, { maxObjectsPerRun: 2 });
    expect(await listFiles(join(lakeRoot, 'c'))).toHaveLength(2);
    const withOwed = await call(ls.url, 'DELETE', `/${bucket}/sources/${c}?purge=true`);
    expect(withOwed.body.purge.objects).toBe(5);
    await waitFor('the second purge to finish', async () => (await listFiles(join(lakeRoot, 'c'))).length === 0);
    expect(await listFiles(lakeRoot)).toHaveLength(7);
  });

  it('keeps the keys another source of the bucket also holds when purging', async () => {
    const bucket = unique('kb');
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
    const lakeRoot = join((ls.lake as { dir: string }).dir, bucket);
    const addSource = async (name: string, files: Record<string, string>, settings: Record<string, unknown>) => {
      const dir = await mkdtemp(join(tmpdir(), 'lakesync-shared-'));
      dirs.push(dir);
      await writeAll(dir, new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])));
      const src = await call(ls.url, 'POST', `/${bucket}/sources`, {
        name,
        kind: 'filesystem',
        filesystem: { path: dir },
        syncIntervalSeconds: 3600,
        ...settings,
      });
      expect(src.status).toBe(201);
      const run = await call(ls.url, 'POST', `/${bucket}/sources/${src.body.sourceId}/discover`, {});
      const { job } = await waitForJob(ls.url, bucket, src.body.sourceId, run.body.jobId);
      expect(job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDiscovered: Object.keys(files).length });
      return src.body.sourceId as string;
    };
    // Two sources on one prefix, with a file name in common: both hold shared/common.txt.
    const a = await addSource('a', { 'common.txt': 'from a', 'only-a.txt': 'a alone', 'dup-me.txt': 'same bytes twice' }, { targetPrefix: 'shared/' });
    await addSource('b', { 'common.txt': 'from b', 'only-b.txt': 'b alone' }, { targetPrefix: 'shared/' });
    // A third, skipping duplicates, holds a's shared/dup-me.txt for its own copy.txt instead of copying it.
    const c = await addSource('c', { 'copy.txt': 'same bytes twice' }, { targetPrefix: 'dups/', skipDuplicates: true });
    expect(await listFiles(lakeRoot)).toEqual(['shared/common.txt', 'shared/dup-me.txt', 'shared/only-a.txt', 'shared/only-b.txt']);

    const purged = await call(ls.url, 'DELETE', `/${bucket}/sources/${a}?purge=true`);
    expect(purged.status).toBe(202);
    // Only what a alone held is owed removal.
    expect(purged.body.purge.objects).toBe(1);
    expect(await ls.runtime.temporal.workflow.getHandle(purged.body.purge.workflowId).result()).toEqual({ removed: 1 });
    expect(await tree(lakeRoot)).toEqual(
      new Map([
        ['shared/common.txt', sha256(Buffer.from('from b'))],
        ['shared/dup-me.txt', sha256(Buffer.from('same bytes twice'))],
        ['shared/only-b.txt', sha256(Buffer.from('b alone'))],
      ]),
    );
    // c's object still reads from the key it shares.
    const dup = await fetch(`${ls.url}/${bucket}/shared/dup-me.txt`, { headers: { authorization: `Bearer ${await ls.token()}` } });
    expect(await dup.text()).toBe('same bytes twice');

    // Once no other source holds it, a purge removes it.
    const last = await call(ls.url, 'DELETE', `/${bucket}/sources/${c}?purge=true`);
    expect(last.body.purge.objects).toBe(1);
    expect(await ls.runtime.temporal.workflow.getHandle(last.body.purge.workflowId).result()).toEqual({ removed: 1 });
    expect(await listFiles(lakeRoot)).toEqual(['shared/common.txt', 'shared/only-b.txt']);
  });
});
