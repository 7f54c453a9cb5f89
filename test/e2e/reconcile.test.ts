/**
 * What discovery and ingestion do to the lake as the source changes: filters,
 * deletes, updates, filter drift, run caps, delete limits, dry runs,
 * duplicates, and dead letters that are replayed once their cause is fixed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, waitFor, waitForJob } from '../support/http.js';
import { startTestLakesync, unique, type TestLakesync } from '../support/lakesync.js';
import { listFiles as lakeFiles } from '../support/objects.js';

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [key, body] of Object.entries(files)) {
    await mkdir(join(root, key, '..'), { recursive: true });
    await writeFile(join(root, key), body);
  }
}

describe('reconcile, filters and dead letters', () => {
  let ls: TestLakesync;
  const bucket = unique('kb');
  const tmp: string[] = [];
  let lake: string;

  const newDir = async (files: Record<string, string>) => {
    const dir = await mkdtemp(join(tmpdir(), 'lakesync-rec-'));
    tmp.push(dir);
    await writeTree(dir, files);
    return dir;
  };
  const newSource = async (dir: string, extra: Record<string, unknown>) => {
    const res = await call(ls.url, 'POST', `/${bucket}/sources`, {
      name: unique('s'),
      kind: 'filesystem',
      filesystem: { path: dir },
      syncIntervalSeconds: 3600,
      ...extra,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.sourceId as string;
  };
  const discover = async (sourceId: string, body: Record<string, unknown> = {}) => {
    const res = await call(ls.url, 'POST', `/${bucket}/sources/${sourceId}/discover`, body);
    expect(res.status).toBe(200);
    return waitForJob(ls.url, bucket, sourceId, res.body.jobId);
  };

  beforeAll(async () => {
    // Three keys a page: every scan here spans pages, so per-page marks, caps and copies that start mid-scan are exercised.
    ls = await startTestLakesync({ lake: 'filesystem', activityOverrides: { retryBackoffMs: 20, listPageSize: 3 } });
    lake = join((ls.lake as { dir: string }).dir, bucket);
    expect((await call(ls.url, 'POST', '/admin/buckets', { name: bucket })).status).toBe(201);
  });
  afterAll(async () => {
    await ls?.stop();
    for (const d of tmp) await rm(d, { recursive: true, force: true });
  });

  it('syncs only what the file filters select', async () => {
    const dir = await newDir({
      'docs/a.md': 'a',
      'docs/draft-b.md': 'b',
      'docs/big.md': 'x'.repeat(5000),
      'notes/c.txt': 'c',
      'img/d.png': 'png',
      'img/e.jpg': 'jpg',
      'data/f.csv': 'f',
      'old/g.md': 'g',
    });
    await utimes(join(dir, 'old/g.md'), new Date('2020-01-01'), new Date('2020-01-01'));
    const id = await newSource(dir, {
      targetPrefix: 'filters/',
      fileFilters: { includePatterns: ['*.md', '*.txt', 'img/**'], excludePatterns: ['**/draft-*'], maxSizeBytes: 4096, modifiedAfter: '2021-01-01T00:00:00Z' },
    });
    const r = await discover(id);
    expect(await lakeFiles(join(lake, 'filters'))).toEqual(['docs/a.md', 'img/d.png', 'img/e.jpg', 'notes/c.txt']);
    expect(r.job).toMatchObject({ objectsListed: 8, objectsDiscovered: 4, objectsNew: 4, objectsProcessed: 4 });

    const mimeOnly = await newSource(dir, { targetPrefix: 'mime/', fileFilters: { mimeTypes: ['image/*', 'text/csv'] } });
    await discover(mimeOnly);
    expect(await lakeFiles(join(lake, 'mime'))).toEqual(['data/f.csv', 'img/d.png', 'img/e.jpg']);
  });

  it('removes objects that drift out of the filters when onFilterDrift is on, and keeps them when it is off', async () => {
    const files = { 'a.md': 'a', 'b.md': 'b', 'c.txt': 'c' };
    const dir = await newDir(files);
    const drifting = await newSource(dir, { targetPrefix: 'drift-on/' });
    const keeping = await newSource(dir, { targetPrefix: 'drift-off/', reconcile: { onFilterDrift: false } });
    await discover(drifting);
    await discover(keeping);
    for (const id of [drifting, keeping]) {
      expect((await call(ls.url, 'PATCH', `/${bucket}/sources/${id}`, { fileFilters: { excludePatterns: ['*.md'] } })).status).toBe(200);
    }
    const on = await discover(drifting);
    const off = await discover(keeping);
    expect(on.job).toMatchObject({ objectsRemoved: 2, objectsDiscovered: 0 });
    expect(off.job).toMatchObject({ objectsRemoved: 0, objectsDiscovered: 0 });
    expect(await lakeFiles(join(lake, 'drift-on'))).toEqual(['c.txt']);
    expect(await lakeFiles(join(lake, 'drift-off'))).toEqual(['a.md', 'b.md', 'c.txt']);

    // Widening the filters again brings the removed ones back.
    await call(ls.url, 'PATCH', `/${bucket}/sources/${drifting}`, { fileFilters: { excludePatterns: [] } });
    const back = await discover(drifting);
    expect(back.job).toMatchObject({ objectsDiscovered: 2, objectsNew: 2 });
    expect(await lakeFiles(join(lake, 'drift-on'))).toEqual(['a.md', 'b.md', 'c.txt']);
  });

  it('removes deleted objects from the lake with onDelete, keeps them without, and re-ingests updates only with onUpdate', async () => {
    const dir = await newDir({ 'keep.txt': 'k', 'gone.txt': 'g', 'edit.txt': 'v1' });
    const strict = await newSource(dir, { targetPrefix: 'del-on/' });
    const lenient = await newSource(dir, { targetPrefix: 'del-off/', reconcile: { onDelete: false, onUpdate: false } });
    await discover(strict);
    await discover(lenient);
    await rm(join(dir, 'gone.txt'));
    await writeFile(join(dir, 'edit.txt'), 'version two');
    const s = await discover(strict);
    const l = await discover(lenient);
    expect(s.job).toMatchObject({ objectsDeleted: 1, objectsRemoved: 1, objectsDiscovered: 1, objectsChanged: 1 });
    expect(l.job).toMatchObject({ objectsDeleted: 1, objectsRemoved: 0, objectsDiscovered: 0 });
    expect(await lakeFiles(join(lake, 'del-on'))).toEqual(['edit.txt', 'keep.txt']);
    expect(await lakeFiles(join(lake, 'del-off'))).toEqual(['edit.txt', 'gone.txt', 'keep.txt']);
    expect(await readFile(join(lake, 'del-on/edit.txt'), 'utf8')).toBe('version two');
    expect(await readFile(join(lake, 'del-off/edit.txt'), 'utf8')).toBe('v1');
  });

  it('caps a run at maxObjectsPerRun and leaves the rest to the next runs', async () => {
    const dir = await newDir(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`o${i}.txt`, `o${i}`])));
    const id = await newSource(dir, { targetPrefix: 'capped/', maxObjectsPerRun: 4 });
    const first = await discover(id);
    // The first four keys in order, though the cap falls in the middle of the second page.
    expect(await lakeFiles(join(lake, 'capped'))).toEqual(['o0.txt', 'o1.txt', 'o2.txt', 'o3.txt']);
    const runs = [first, await discover(id), await discover(id), await discover(id)];
    expect(runs.map((r) => r.job.objectsDiscovered)).toEqual([4, 4, 2, 0]);
    expect(runs.map((r) => r.job.objectsDeferred)).toEqual([6, 2, 0, 0]);
    expect(runs[0]!.job.objectsDeferred).toBe(6);
    expect(runs[0]!.sync.objectsProcessed).toBe('4');
    expect(await lakeFiles(join(lake, 'capped'))).toHaveLength(10);
    const source = await call(ls.url, 'GET', `/${bucket}/sources/${id}`);
    expect(source.body.totalObjectsDiscovered).toBe(10);
    expect(source.body.totalObjectsSynced).toBe(10);
  });

  it('refuses a run that would delete more than reconcile.maxDeletes, deleting nothing', async () => {
    const dir = await newDir(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`m${i}.txt`, `m${i}`])));
    const id = await newSource(dir, { targetPrefix: 'maxdel/', reconcile: { maxDeletes: 3 } });
    await discover(id);
    for (let i = 0; i < 5; i++) await rm(join(dir, `m${i}.txt`));
    const refused = await discover(id);
    expect(refused.job.status).toBe('JOB_STATUS_FAILED');
    expect(refused.job.error).toMatch(/refusing to delete 5 of 10 objects.*maxDeletes=3.*nothing was deleted/);
    expect(await lakeFiles(join(lake, 'maxdel'))).toHaveLength(10);

    await call(ls.url, 'PATCH', `/${bucket}/sources/${id}`, { reconcile: { maxDeletes: '50%' } });
    const allowed = await discover(id);
    expect(allowed.job).toMatchObject({ status: 'JOB_STATUS_SUCCEEDED', objectsDeleted: 5, objectsRemoved: 5 });
    expect(await lakeFiles(join(lake, 'maxdel'))).toHaveLength(5);
  });

  it('reports on a dry run what would be added, changed and deleted, touching nothing', async () => {
    const dir = await newDir({ 'same.txt': 's', 'change.txt': 'c1', 'remove.txt': 'r' });
    const id = await newSource(dir, { targetPrefix: 'dry/' });
    await discover(id);
    await writeFile(join(dir, 'change.txt'), 'changed!');
    await rm(join(dir, 'remove.txt'));
    await writeFile(join(dir, 'add1.txt'), 'a');
    await writeFile(join(dir, 'add2.txt'), 'b');
    const res = await call(ls.url, 'POST', `/${bucket}/sources/${id}/discover`, { dryRun: true });
    expect(res.body.message).toMatch(/Dry-run/);
    const job = await waitFor('dry run', async () => {
      const j = await call(ls.url, 'GET', `/${bucket}/jobs/${res.body.jobId}`);
      return j.body.finishedAt && j.body;
    });
    expect(job).toMatchObject({
      dryRun: true,
      status: 'JOB_STATUS_SUCCEEDED',
      objectsNew: 2,
      objectsChanged: 1,
      objectsDeleted: 1,
      objectsRemoved: 1,
      objectsProcessed: 0,
    });
    expect(await lakeFiles(join(lake, 'dry'))).toEqual(['change.txt', 'remove.txt', 'same.txt']);
    expect(await readFile(join(lake, 'dry/change.txt'), 'utf8')).toBe('c1');
    // Nothing was recorded either: the real run finds exactly what the dry run reported.
    const real = await discover(id);
    expect(real.job).toMatchObject({ objectsNew: 2, objectsChanged: 1, objectsDeleted: 1, objectsRemoved: 1 });
  });

  it('skips content the bucket already holds when skipDuplicates is on', async () => {
    const one = await newDir({ 'report.pdf': 'identical bytes', 'unique-1.txt': 'one' });
    const two = await newDir({ 'copy-of-report.pdf': 'identical bytes', 'unique-2.txt': 'two' });
    await discover(await newSource(one, { targetPrefix: 'dup1/' }));
    const second = await newSource(two, { targetPrefix: 'dup2/', skipDuplicates: true });
    const r = await discover(second);
    expect(r.job).toMatchObject({ objectsDiscovered: 2, objectsProcessed: 2, objectsSkipped: 1, bytesTransferred: 3 });
    expect(await lakeFiles(join(lake, 'dup2'))).toEqual(['unique-2.txt']);
  });

  it('dead-letters objects the lake cannot store at once, lists them, and replays them with retryFailed once fixed', async () => {
    const dir = await newDir({ 'ok-1.txt': '1', 'ok-2.txt': '2', 'blocked/x.txt': 'x', 'blocked/y.txt': 'y' });
    // A file where the lake needs a directory: those two objects cannot be stored.
    await mkdir(join(lake, 'dl'), { recursive: true });
    await writeFile(join(lake, 'dl', 'blocked'), 'in the way');
    const id = await newSource(dir, { targetPrefix: 'dl/' });
    const r = await discover(id);
    expect(r.job).toMatchObject({ status: 'JOB_STATUS_PARTIAL', objectsDiscovered: 4, objectsProcessed: 2, objectsIndexed: 2, objectsFailed: 2 });
    expect(r.sync).toMatchObject({ objectsDiscovered: '4', objectsProcessed: '2', objectsIndexed: '2', objectsFailed: '2' });
    expect(r.job.failedObjects.map((o: { key: string }) => o.key)).toEqual(['blocked/x.txt', 'blocked/y.txt']);
    // A file/folder clash cannot pass on a retry: dead-lettered on its first attempt.
    expect(r.job.failedObjects[0]).toMatchObject({ attempts: 1 });
    expect(r.job.failedObjects[0].error).toContain('needs a folder where the directory lake stores an object of that name');

    const dead = await call(ls.url, 'GET', `/${bucket}/sources/${id}/dead-letters?page_size=1`);
    expect(dead.body.totalCount).toBe(2);
    expect(dead.body.deadLetters[0]).toMatchObject({ key: 'blocked/x.txt', attempts: 1 });
    const page2 = await call(ls.url, 'GET', `/${bucket}/sources/${id}/dead-letters?page_size=1&page_token=${encodeURIComponent(dead.body.nextPageToken)}`);
    expect(page2.body.deadLetters[0].key).toBe('blocked/y.txt');

    // A plain ingest does not touch dead letters; a delta discovery does not either.
    expect((await call(ls.url, 'POST', `/${bucket}/sources/${id}/ingest`, {})).body).toMatchObject({ dispatched: 0 });
    expect((await discover(id)).job.objectsDiscovered).toBe(0);

    await rm(join(lake, 'dl', 'blocked'));
    const replay = await call(ls.url, 'POST', `/${bucket}/sources/${id}/ingest`, { retryFailed: true });
    expect(replay.body).toMatchObject({ accepted: true, dispatched: 2, message: 'Dispatched 2 objects' });
    const done = await waitForJob(ls.url, bucket, id, replay.body.jobId);
    expect(done.job).toMatchObject({ kind: 'ingestion', retryFailed: true, objectsDiscovered: 2, objectsProcessed: 2, objectsFailed: 0 });
    expect(await lakeFiles(join(lake, 'dl'))).toEqual(['blocked/x.txt', 'blocked/y.txt', 'ok-1.txt', 'ok-2.txt']);
    expect((await call(ls.url, 'GET', `/${bucket}/sources/${id}/dead-letters`)).body.totalCount).toBe(0);

    // sourceObjectId scopes ingestion to exactly one object.
    const one = page2.body.deadLetters[0].sourceObjectId;
    const scoped = await call(ls.url, 'POST', `/${bucket}/sources/${id}/ingest`, { sourceObjectId: one });
    expect(scoped.body.dispatched).toBe(1);
    const scopedDone = await waitForJob(ls.url, bucket, id, scoped.body.jobId);
    expect(scopedDone.job).toMatchObject({ sourceObjectId: one, objectsProcessed: 1 });
  });
});
